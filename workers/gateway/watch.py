"""The gateway's periodic chores over every stream: heartbeats, expired tokens, revoked
memberships."""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog

from workers.gateway.hub import Hub
from workers.gateway.membership import MembershipCache

log = structlog.get_logger("pulse.gateway.watch")


async def send_heartbeats(hub: Hub, interval_s: float, stop: asyncio.Event) -> None:
    while not await _stopped(stop, interval_s):
        hub.heartbeat()


async def check_access(
    hub: Hub, membership: MembershipCache, interval_s: float, stop: asyncio.Event
) -> None:
    """Ends streams whose token expired (at once) or whose membership was revoked (once its
    cached answer is older than the TTL and Postgres says so). When Postgres cannot be read,
    open streams keep going on their last answer and the failure is logged."""
    while not await _stopped(stop, interval_s):
        expired = hub.expire(time.time())
        if expired:
            log.info("streams ended: token expired", streams=expired)
        pairs = {(client.user_id, client.site_id) for client in hub.registry.clients()}
        try:
            answers = await membership.refresh(pairs)
        except Exception as exc:
            log.error("site_members could not be read; streams kept", error=str(exc))
            continue
        revoked = hub.revoke(answers)
        if revoked:
            log.info("streams ended: membership revoked", streams=revoked)


async def _stopped(stop: asyncio.Event, within_s: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), within_s)
    return stop.is_set()
