"""Keeping a user JWT fresh: fetch a new one before ``exp`` and hand it to the Realtime client.

Realtime closes a channel whose token expired (a ``system`` error, then ``phx_close``); sending
``access_token`` with a fresh token before then keeps the channel, and the server answers with a
new "Subscribed to PostgreSQL". Where tokens come from is a ``TokenSource``: a file that another
process keeps current (``SUPABASE_ACCESS_TOKEN_FILE``), or any callable in tests.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import structlog

log = structlog.get_logger("pulse.ingest.realtime.token")

TokenSource = Callable[[], Awaitable[str]]
ApplyToken = Callable[[str], Awaitable[None]]
RETRY_S = 5.0


def token_expiry(token: str) -> float | None:
    """The ``exp`` claim, read without verifying (the server verifies); None when absent."""
    try:
        body = token.split(".")[1]
        claims = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (IndexError, ValueError, orjson.JSONDecodeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) else None


def file_token_source(path: str) -> TokenSource:
    async def read() -> str:
        return (await asyncio.to_thread(Path(path).read_text)).strip()

    return read


def refresh_delay(exp: float | None, margin_s: float, now: float) -> float | None:
    """Seconds until the token should be replaced; None for a token that never expires."""
    if exp is None:
        return None
    return max(0.0, exp - margin_s - now)


@dataclass
class TokenKeeper:
    source: TokenSource
    margin_s: float
    token: str | None = None
    refreshes: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def current(self) -> str:
        if self.token is None:
            self.token = await self.source()
        return self.token

    async def refresh(self) -> str:
        """Fetch a token now (before a rebuild, or when the server said ours expired)."""
        fresh = await self.source()
        if fresh != self.token:
            self.token = fresh
            self.refreshes += 1
            self._changed.set()
        return fresh

    async def run(self, apply: ApplyToken, stop: asyncio.Event) -> None:
        """Replace the token ``margin_s`` before each ``exp``, applying every new one."""
        while not stop.is_set():
            token = await self.current()
            delay = refresh_delay(token_expiry(token), self.margin_s, time.time())
            self._changed.clear()
            waits = [
                asyncio.ensure_future(stop.wait()),
                asyncio.ensure_future(self._changed.wait()),
            ]
            done, pending = await asyncio.wait(
                waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            if stop.is_set():
                return
            if not done:
                try:
                    await self.refresh()
                except OSError as exc:
                    log.error("token refresh failed; retrying", error=str(exc))
                    await asyncio.sleep(RETRY_S)
                    continue
                if self.token == token:
                    log.warning(
                        "token source returned the same token; retrying", exp=token_expiry(token)
                    )
                    await asyncio.sleep(RETRY_S)
                    continue
            assert self.token is not None
            log.info("applying a fresh access token", exp=token_expiry(self.token))
            await apply(self.token)
