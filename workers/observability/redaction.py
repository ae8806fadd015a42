"""A structlog processor that keeps credentials out of log lines, whatever the caller passed.

It runs last before rendering (see ``workers/logs.py``), over the event and every value:
- passwords in URLs (``postgresql://user:secret@host``) and in libpq key/value strings
  (``password=secret``) become ``***``;
- JSON Web Tokens (Supabase API keys and access tokens are JWTs) become ``***``;
- text under keys that name a secret (``password``, ``token``, ``api_key``, ...) becomes ``***``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from typing import Any

MASK = "***"

_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@\s]*(?P<at>@)")
_KV_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_SECRET_KEY = re.compile(
    r"(password|passwd|secret|token|api[_-]?key|apikey|service[_-]?key|authorization)",
    re.IGNORECASE,
)


def redact_text(text: str) -> str:
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}{m['at']}", text)
    text = _KV_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", text)
    return _JWT.sub(MASK, text)


def redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {key: _redact_item(str(key), item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(item) for item in value)
    return value


def _redact_item(key: str, value: Any) -> Any:
    if _SECRET_KEY.search(key) and isinstance(value, str | bytes) and value:
        return MASK
    return redact_value(value)


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        event_dict[key] = _redact_item(key, event_dict[key])
    return event_dict
