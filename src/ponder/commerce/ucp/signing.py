"""The store's UCP signing key, and JWS with detached content over JCS-canonical JSON: what UCP signs
with (AP2's ``ap2.merchant_authorization``, RFC 7515 Appendix F over RFC 8785 JSON).

The key is ES256 (ECDSA P-256), made on first use and kept in the database, so every server of one database
signs with the same key; its public half is in the business profile's ``signing_keys``. A document is
signed as it is minus its ``ap2`` member, canonicalized with JCS; the signature travels as
``<base64url header>..<base64url signature>`` beside the document it signs.

Not here: what is signed when (server/ucp/), mandates (mandates.py).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from jwcrypto import jwk, jws  # type: ignore[import-untyped]
from jwcrypto.common import JWException  # type: ignore[import-untyped]

from ponder.store.database import Database, sql

__all__ = ["ALGORITHMS", "SigningKey", "canonical", "verify_body", "verify_detached"]

ALGORITHMS = ("ES256", "ES384", "ES512")  # what UCP allows


def canonical(document: dict[str, Any]) -> bytes:
    """``document`` minus its ``ap2`` member, as JCS (RFC 8785) bytes: what a UCP signature covers."""
    return rfc8785.dumps({k: v for k, v in document.items() if k != "ap2"})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SigningKey:
    """The store's ES256 key: ``kid``, its public JWK, and detached signatures of documents."""

    def __init__(self, pem: bytes) -> None:
        private = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private, ec.EllipticCurvePrivateKey) or private.curve.name != "secp256r1":
            raise ValueError("The UCP signing key is not an ECDSA P-256 key.")
        self._private = private
        self._key = jwk.JWK.from_pem(pem)
        self.kid: str = self._key.thumbprint()

    @classmethod
    def of(cls, db: Database) -> SigningKey:
        """The database's key: the first one made (made now if there is none)."""
        key = cls._first(db)
        if key is None:
            made = jwk.JWK.generate(kty="EC", crv="P-256")
            pem = made.export_to_pem(private_key=True, password=None).decode()
            with db.transaction() as conn:
                conn.execute(
                    sql(
                        "INSERT INTO ucp_signing_keys (kid, private_pem, created_at) VALUES (:kid, :pem, :at)"
                    ),
                    {"kid": made.thumbprint(), "pem": pem, "at": time.time()},
                )
            key = cls._first(db)  # two servers making one at once: both take the first
        assert key is not None
        return key

    @classmethod
    def _first(cls, db: Database) -> SigningKey | None:
        with db.reading() as conn:
            pem = conn.execute(
                sql("SELECT private_pem FROM ucp_signing_keys ORDER BY created_at, kid LIMIT 1")
            ).scalar()
        return None if pem is None else cls(str(pem).encode())

    def public_jwk(self) -> dict[str, Any]:
        """The public key as UCP's ``signing_keys`` lists it."""
        public: dict[str, Any] = self._key.export_public(as_dict=True)
        return public | {"kid": self.kid, "use": "sig", "alg": "ES256"}

    def sign(self, document: dict[str, Any]) -> str:
        """The detached JWS of ``document`` (minus ``ap2``): ``header..signature``. Deterministic ECDSA
        (RFC 6979): the same document always gets the same signature, so a checkout read twice is the
        same answer twice."""
        return self._detached({}, _b64(canonical(document)).encode())

    def sign_body(self, body: bytes) -> str:
        """A request body's detached JWS with its payload unencoded (RFC 7797: ``b64`` false): what UCP's
        ``Request-Signature`` header carries on a webhook. ``header..signature``."""
        return self._detached({"b64": False, "crit": ["b64"]}, body)

    def _detached(self, more_header: dict[str, Any], payload: bytes) -> str:
        """ES256 over ``header.payload`` (the payload as the JWS variant puts it in the signing input),
        deterministic; the compact form without the payload: ``header..signature``."""
        fields = {"alg": "ES256", "kid": self.kid} | more_header
        header = _b64(json.dumps(fields, separators=(",", ":")).encode())
        der = self._private.sign(
            header.encode() + b"." + payload, ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
        )
        r, s = decode_dss_signature(der)
        return f"{header}..{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def verify_detached(signature: str, document: dict[str, Any], keys: Sequence[dict[str, Any]]) -> bool:
    """Whether ``signature`` (``header..signature``) signs ``document`` (minus ``ap2``) with one of ``keys``
    (public JWKs, by the header's ``kid``), in an algorithm UCP allows."""
    parts = signature.split(".")
    if len(parts) != 3 or parts[1]:
        return False
    try:
        header = json.loads(_unb64(parts[0]))
        alg, kid = header.get("alg"), header.get("kid")
        key = next((k for k in keys if k.get("kid") == kid), None)
        if alg not in ALGORITHMS or key is None:
            return False
        token = jws.JWS()
        token.deserialize(f"{parts[0]}.{_b64(canonical(document))}.{parts[2]}")
        token.verify(jwk.JWK(**key), alg=alg)
        return True
    except (JWException, ValueError, TypeError, KeyError):
        return False


def verify_body(signature: str, body: bytes, keys: Sequence[dict[str, Any]]) -> bool:
    """Whether ``signature`` (``sign_body``'s, RFC 7797) signs ``body`` with one of ``keys`` (by ``kid``)."""
    parts = signature.split(".")
    if len(parts) != 3 or parts[1]:
        return False
    try:
        header = json.loads(_unb64(parts[0]))
        key = next((k for k in keys if k.get("kid") == header.get("kid")), None)
        if header.get("alg") != "ES256" or header.get("b64") is not False or key is None:
            return False
        raw = _unb64(parts[2])
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        public = jwk.JWK(**key).get_op_key("verify")
        public.verify(der, parts[0].encode() + b"." + body, ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, JWException, ValueError, TypeError, KeyError):
        return False
