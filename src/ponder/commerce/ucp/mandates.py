"""AP2 checkout mandates: the one way an agent's ``complete`` buys without the person confirming in the
store's own app, because the mandate is the person's confirmation, made on their side and signed.

A checkout mandate (UCP's ``ap2.checkout_mandate``) is an SD-JWT+kb credential (AP2). It counts as the
person's confirmation of exactly one checkout when all of this holds, checked here:

- **A key the store trusts.** The issuer-signed JWT verifies with a key of the platform the agent speaks for:
  the store lists, per platform profile, the keys it trusts to issue mandates (``[ucp.mandate_issuers]``,
  a JWKS file each). An agent whose platform is not listed cannot buy this way (``agent_missing_key``).
- **The holder's key binding.** Its KB-JWT verifies with the holder key in the credential's ``cnf``, for this
  store (``aud``: the store's public base URL) and this checkout (``nonce``: the checkout's id), over this
  presentation (``sd_hash``).
- **The terms the store gave.** Its ``checkout`` claim is a checkout this store signed: its
  ``ap2.merchant_authorization`` verifies with the store's own key over the rest of it.
- **This cart now.** That checkout is this one (its id), with the same lines (item and quantity) and the
  same total as the checkout has now: a cart changed since, or another amount, is ``mandate_scope_mismatch``.
- **In time, once.** Its ``exp`` has not passed (a mandate without one is refused), and it was never used:
  each mandate buys once (``ucp_mandates``); a second use is refused, whatever the checkout.

Not here: what happens then (checkouts.py proposes the order and confirms it at once), HTTP.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jwcrypto import jwk  # type: ignore[import-untyped]
from jwcrypto.common import JWException  # type: ignore[import-untyped]
from sd_jwt.verifier import SDJWTVerifier  # type: ignore[import-untyped]
from sqlalchemy.exc import IntegrityError

from ponder.commerce.ucp.errors import InvalidCheckoutRequest
from ponder.commerce.ucp.signing import SigningKey, verify_detached
from ponder.errors import UserError
from ponder.store.database import Database, sql

__all__ = ["MandateRefused", "Mandates", "Terms", "load_issuers"]


class MandateRefused(InvalidCheckoutRequest):
    """The mandate does not confirm this checkout: ``code`` is AP2's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Terms:
    """What a mandate must confirm: the checkout as it is now."""

    checkout_id: str
    lines: tuple[tuple[str, int], ...]  # (item id, quantity), in the checkout's order
    total: int  # minor units

    @classmethod
    def of(cls, checkout: dict[str, Any]) -> Terms:
        """A checkout document's terms (either UCP version: items, quantities and the total are shaped
        alike)."""
        lines = tuple((str(li["item"]["id"]), int(li["quantity"])) for li in checkout.get("line_items", []))
        total = next((int(t["amount"]) for t in checkout.get("totals", []) if t.get("type") == "total"), -1)
        return cls(str(checkout.get("id", "")), lines, abs(total))


def load_issuers(files: dict[str, Path]) -> dict[str, list[dict[str, Any]]]:
    """``[ucp.mandate_issuers]``: for each platform profile, the public keys in its JWKS file."""
    issuers: dict[str, list[dict[str, Any]]] = {}
    for profile, path in files.items():
        try:
            keys = json.loads(Path(path).read_text())["keys"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise UserError(
                f"[ucp.mandate_issuers] {profile}: {path} is not a readable JWKS ({err})."
            ) from None
        issuers[profile] = [k for k in keys if isinstance(k, dict) and "d" not in k]  # public keys only
    return issuers


class Mandates:
    """Verify checkout mandates and record each one used."""

    def __init__(self, db: Database, issuers: dict[str, list[dict[str, Any]]]) -> None:
        self.db = db
        self.issuers = issuers

    def verify(
        self, mandate: str, *, profile: str | None, store: SigningKey, base_url: str, terms: Terms
    ) -> None:
        """Check ``mandate`` against everything the module docstring lists; ``MandateRefused`` says what
        failed. It is not yet used: ``consume`` does that."""
        keys = self.issuers.get(profile or "")
        if not keys:
            raise MandateRefused(
                "agent_missing_key", "This store trusts no mandate key of this platform: the buyer confirms."
            )

        def issuer_key(_issuer: str, header: dict[str, Any]) -> Any:
            kid = header.get("kid")
            key = (
                keys[0]
                if kid is None and len(keys) == 1
                else next((k for k in keys if k.get("kid") == kid), None)
            )
            if key is None:
                raise MandateRefused(
                    "mandate_invalid_signature", "The mandate's key is not one this store trusts."
                )
            return jwk.JWK(**key)

        try:
            verified = SDJWTVerifier(
                mandate, issuer_key, expected_aud=base_url, expected_nonce=terms.checkout_id
            )
            claims: dict[str, Any] = verified.get_verified_payload()
        except MandateRefused:
            raise
        except (JWException, ValueError, KeyError, TypeError, IndexError, AttributeError) as err:
            raise MandateRefused(
                "mandate_invalid_signature", f"The mandate cannot be verified: {str(err)[:200]}"
            ) from None
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp <= time.time():
            raise MandateRefused("mandate_expired", "The mandate has expired (or says no expiry).")
        checkout = claims.get("checkout")
        if not isinstance(checkout, dict):
            raise MandateRefused("mandate_scope_mismatch", "The mandate holds no checkout.")
        signature = (checkout.get("ap2") or {}).get("merchant_authorization")
        if not isinstance(signature, str) or not verify_detached(signature, checkout, [store.public_jwk()]):
            raise MandateRefused(
                "merchant_authorization_invalid", "The mandate's checkout is not one this store signed."
            )
        signed = Terms.of(checkout)
        if signed.checkout_id != terms.checkout_id:
            raise MandateRefused("mandate_scope_mismatch", "The mandate is for another checkout.")
        if signed.lines != terms.lines or signed.total != terms.total:
            raise MandateRefused(
                "mandate_scope_mismatch",
                "The mandate confirms other items or another total than this checkout has now.",
            )

    def consume(self, mandate: str, account: str, checkout_id: str) -> None:
        """Record the mandate as used; ``MandateRefused`` if it was already."""
        digest = hashlib.sha256(mandate.split("~", 1)[0].encode()).hexdigest()
        try:
            with self.db.transaction() as db:
                db.execute(
                    sql(
                        "INSERT INTO ucp_mandates (digest, account, checkout_id, used_at) "
                        "VALUES (:digest, :account, :checkout, :at)"
                    ),
                    {"digest": digest, "account": account, "checkout": checkout_id, "at": time.time()},
                )
        except IntegrityError:
            raise MandateRefused("mandate_reused", "This mandate was already used.") from None
