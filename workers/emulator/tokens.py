"""JWTs as Realtime checks them: HS256 with the project's secret, ``role`` and ``exp`` required."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt


@dataclass(frozen=True)
class TokenCheck:
    claims: dict[str, Any] | None
    error: str | None
    expired_for_s: int = 0


def check_token(token: str, secret: str | None, now: float | None = None) -> TokenCheck:
    """Claims of a valid token, or the server's error text (without the ``InvalidJWTToken:`` code).

    Without a secret every token is accepted with service-role claims, as a local dev stack would.
    """
    if secret is None:
        return TokenCheck({"role": "service_role", "exp": None}, None)
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=["HS256"], options={"verify_exp": False, "verify_aud": False}
        )
    except jwt.PyJWTError as exc:
        return TokenCheck(None, f"Invalid token: {exc}")
    if "role" not in claims or "exp" not in claims:
        return TokenCheck(None, "Fields `role` and `exp` are required in JWT")
    moment = time.time() if now is None else now
    if float(claims["exp"]) <= moment:
        ago = int(moment - float(claims["exp"]))
        return TokenCheck(None, f"Token has expired {ago} seconds ago", ago)
    return TokenCheck(claims, None)


def mint_token(
    secret: str, role: str = "service_role", ttl_s: float = 10 * 365 * 86400, **extra: Any
) -> str:
    """A signed token such as Supabase issues (service keys are JWTs with a long ``exp``)."""
    now = int(time.time())
    claims = {"role": role, "iss": "supabase", "iat": now, "exp": int(now + ttl_s), **extra}
    return jwt.encode(claims, secret, algorithm="HS256")
