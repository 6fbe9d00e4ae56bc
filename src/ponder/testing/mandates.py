"""A shopping platform that issues AP2 checkout mandates for its users, as a test double: what a store's
tests (and bench/ucp_complete_race.py) need to buy through UCP's ``complete`` with a mandate the store
verifies for real (commerce/ucp/mandates.py).

``TestPlatform`` holds an issuer key (the platform's, published as a JWKS file the store trusts:
``[ucp.mandate_issuers]``) and a holder key (the user's device). ``mandate(checkout, aud=...)`` is an
SD-JWT signed by the issuer over the checkout as the store signed it, with the holder's key-binding JWT
for ``aud`` (the store's base URL) and the checkout's id as nonce, made with the OpenWallet ``sd-jwt``
library as a platform makes it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from jwcrypto import jwk  # type: ignore[import-untyped]
from sd_jwt.holder import SDJWTHolder  # type: ignore[import-untyped]
from sd_jwt.issuer import SDJWTIssuer  # type: ignore[import-untyped]

__all__ = ["TestPlatform"]


class TestPlatform:
    """A platform (``profile``: its UCP profile URL) and one of its users' devices."""

    __test__ = False  # not a pytest test class

    def __init__(self, profile: str = "https://platform.example/.well-known/ucp", kid: str = "platform-2026"):
        self.profile = profile
        self.kid = kid
        self.issuer = jwk.JWK.generate(kty="EC", crv="P-256", kid=kid)
        self.holder = jwk.JWK.generate(kty="EC", crv="P-256")

    def jwks(self) -> dict[str, Any]:
        """The platform's public keys, as the store's ``[ucp.mandate_issuers]`` file holds them."""
        return {"keys": [self.issuer.export_public(as_dict=True)]}

    def write_jwks(self, path: Path) -> Path:
        path.write_text(json.dumps(self.jwks()), encoding="utf-8")
        return path

    def mandate(
        self,
        checkout: dict[str, Any],
        *,
        aud: str,
        exp: float | None = None,
        nonce: str | None = None,
        issuer: Any = None,
    ) -> str:
        """A checkout mandate for ``checkout`` (as the store answered it, signature included), presented
        to the store at ``aud``; ``issuer``: another key to sign with (a forgery)."""
        claims: dict[str, Any] = {"iss": self.profile, "iat": int(time.time()), "checkout": checkout}
        claims["exp"] = int(time.time() + 600) if exp is None else int(exp)
        issued = SDJWTIssuer(
            claims,
            issuer or self.issuer,
            holder_key=self.holder,
            sign_alg="ES256",
            extra_header_parameters={"kid": self.kid},
        )
        holder = SDJWTHolder(issued.sd_jwt_issuance)
        holder.create_presentation(
            {}, nonce=nonce or checkout["id"], aud=aud, holder_key=self.holder, sign_alg="ES256"
        )
        return str(holder.sd_jwt_presentation)
