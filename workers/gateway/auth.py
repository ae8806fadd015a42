"""Checking a Supabase user JWT: its signature (HS256 with the project's secret, or a key of the
project's JWKS), ``exp``, ``aud`` and ``sub``.

Each refusal carries a short ``reason`` (a metric label) and a one-line ``message`` for the client.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import jwt

# Asymmetric algorithms Supabase signs with when a project uses asymmetric keys. HS256 is only
# ever checked against the secret, never against a JWKS key (no algorithm confusion).
JWKS_ALGORITHMS = ("RS256", "ES256")


class AuthError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Claims:
    user_id: str
    expires_at: float
    role: str | None


def bearer_token(authorization: str | None, query_token: str | None) -> str:
    """The token from ``Authorization: Bearer …`` or, for EventSource (which cannot set
    headers), from the ``access_token`` query parameter."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthError(401, "malformed", "Authorization header is not 'Bearer <token>'")
        return value.strip()
    if query_token:
        return query_token
    raise AuthError(401, "missing", "no token: send Authorization: Bearer or ?access_token=")


class TokenVerifier:
    def __init__(
        self,
        *,
        audience: str,
        secret: str | None = None,
        jwks_url: str | None = None,
    ) -> None:
        if not secret and not jwks_url:
            raise ValueError("a TokenVerifier needs a secret or a JWKS URL")
        self._audience = audience
        self._secret = secret
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True) if jwks_url else None

    async def verify(self, token: str) -> Claims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise AuthError(401, "malformed", "token is not a JWT") from None
        algorithm = str(header.get("alg"))
        try:
            if algorithm == "HS256" and self._secret:
                payload = self._decode(token, self._secret, algorithm)
            elif algorithm in JWKS_ALGORITHMS and self._jwks is not None:
                # PyJWKClient fetches with urllib (blocking); it caches the keys it has read.
                signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
                payload = self._decode(token, signing_key.key, algorithm)
            else:
                raise AuthError(401, "algorithm", f"token algorithm {algorithm} is not accepted")
        except jwt.PyJWKClientError as exc:
            raise AuthError(401, "key", f"token's signing key is not in the JWKS: {exc}") from None
        return self._claims(payload)

    def _decode(self, token: str, key: object, algorithm: str) -> dict[str, object]:
        try:
            payload: dict[str, object] = jwt.decode(
                token,
                key,  # type: ignore[arg-type]
                algorithms=[algorithm],
                audience=self._audience,
                options={"require": ["exp", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError(401, "expired", "token expired") from None
        except jwt.InvalidAudienceError:
            raise AuthError(401, "audience", f"token audience is not {self._audience!r}") from None
        except jwt.InvalidSignatureError:
            raise AuthError(401, "signature", "token signature does not verify") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(401, "claims", f"token has no {exc.claim!r} claim") from None
        except jwt.InvalidTokenError as exc:
            raise AuthError(401, "malformed", f"token rejected: {exc}") from None
        return payload

    @staticmethod
    def _claims(payload: dict[str, object]) -> Claims:
        subject = str(payload["sub"])
        try:
            user_id = str(uuid.UUID(subject))
        except ValueError:
            raise AuthError(401, "claims", "token sub is not a user id (a UUID)") from None
        expires = payload["exp"]
        if not isinstance(expires, int | float):
            raise AuthError(401, "claims", "token exp is not a number")
        role = payload.get("role")
        return Claims(user_id=user_id, expires_at=float(expires), role=str(role) if role else None)
