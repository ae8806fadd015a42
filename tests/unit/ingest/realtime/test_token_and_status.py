"""Token refresh timing, JWT checks as Realtime does them, and the status tracker."""

from __future__ import annotations

import asyncio
import time

import jwt

from workers.emulator.tokens import check_token, mint_token
from workers.ingest.realtime.status import StatusTracker
from workers.ingest.realtime.token import TokenKeeper, refresh_delay, token_expiry

SECRET = "unit-secret-0123456789abcdef0123456789"


def test_expiry_is_read_without_the_secret() -> None:
    token = mint_token(SECRET, role="authenticated", ttl_s=100)
    exp = token_expiry(token)
    assert exp is not None and abs(exp - (time.time() + 100)) < 2
    assert token_expiry("sb_secret_abc") is None and token_expiry("a.b.c") is None


def test_refresh_delay_keeps_the_margin() -> None:
    assert refresh_delay(1000.0, 60.0, 900.0) == 40.0
    assert refresh_delay(1000.0, 60.0, 990.0) == 0.0
    assert refresh_delay(None, 60.0, 0.0) is None


def test_server_side_checks() -> None:
    assert check_token(mint_token(SECRET), SECRET).claims is not None
    expired = check_token(mint_token(SECRET, ttl_s=-30), SECRET)
    assert expired.error is not None and expired.error.startswith("Token has expired 3")
    assert check_token(mint_token("other-secret-0123456789abcdef012345"), SECRET).error is not None
    no_role = jwt.encode({"exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    assert check_token(no_role, SECRET).error == "Fields `role` and `exp` are required in JWT"
    assert check_token("anything", None).claims is not None


async def test_keeper_applies_a_fresh_token_before_expiry() -> None:
    issued: list[str] = []

    async def source() -> str:
        issued.append(mint_token(SECRET, role="authenticated", ttl_s=2, n=len(issued)))
        return issued[-1]

    applied: list[str] = []

    async def apply(token: str) -> None:
        applied.append(token)

    stop = asyncio.Event()
    keeper = TokenKeeper(source, margin_s=1.5)
    task = asyncio.create_task(keeper.run(apply, stop))
    await asyncio.sleep(1.4)
    stop.set()
    await task
    assert applied and applied[0] == issued[1] and keeper.refreshes >= 1


def test_tracker_is_live_only_after_subscribed_to_postgresql() -> None:
    tracker = StatusTracker()
    assert not tracker.record("SUBSCRIBED", 1).live
    assert tracker.record("LIVE", 1, "Subscribed to PostgreSQL").live
    lost = tracker.record("CHANNEL_ERROR", 1, "socket closed")
    assert not lost.live
    updates = tracker.updates(lost, ["site-a", "site-b"])
    later = tracker.updates(tracker.record("LIVE", 2), ["site-a"])
    assert [u.site_id for u in updates] == ["site-a", "site-b"]
    assert (
        updates[0].status == "CHANNEL_ERROR"
        and updates[0].source == "realtime"
        and not updates[0].live
    )
    assert later[0].seq > updates[0].seq
