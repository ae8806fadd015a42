"""Supabase-shaped user tokens for the gateway's tests."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

SECRET = "test-jwt-secret-with-at-least-32-bytes!"
AUDIENCE = "authenticated"


def user_token(
    user_id: str | None = None,
    *,
    secret: str = SECRET,
    ttl_s: float = 3600,
    audience: str = AUDIENCE,
    **extra: Any,
) -> str:
    claims: dict[str, Any] = {
        "sub": user_id or str(uuid.uuid4()),
        "aud": audience,
        "role": "authenticated",
        "exp": int(time.time() + ttl_s),
        **extra,
    }
    return jwt.encode(claims, secret, algorithm="HS256")
