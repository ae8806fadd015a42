"""The gateway's core: per-site state fed by the one consumer, and connecting a client to it.

Everything here runs on the event loop without awaiting, so taking in an update (state, then
fan-out) and connecting a client (snapshot or replay, then registration) never interleave: a
client misses no update between its replay and its first live one, and gets none twice.
"""

from __future__ import annotations

import time
import uuid

import orjson
import structlog
from pydantic import ValidationError

from schemas.updates import dashboard_update_adapter
from workers.gateway.registry import Client, Registry, site_bucket
from workers.gateway.replay import plan_start
from workers.gateway.site_state import SiteState
from workers.gateway.sse import HEARTBEAT, frame, json_frame, one_line
from workers.kafka.partitioner import partition_for
from workers.observability.metrics import (
    GATEWAY_CLIENTS,
    GATEWAY_CLOSED,
    GATEWAY_MESSAGES,
    GATEWAY_REPLAY_DEPTH,
    GATEWAY_RESETS,
    GATEWAY_SKIPPED_UPDATES,
)

log = structlog.get_logger("pulse.gateway")


def canonical_site_id(raw: str) -> str | None:
    """The site id as the pipeline keys it (lower-case UUID), or None if ``raw`` is not one."""
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        return None


class Hub:
    def __init__(self, *, replay_per_site: int, ledger_size: int, client_buffer_bytes: int) -> None:
        self.registry = Registry()
        self._replay_per_site = replay_per_site
        self._ledger_size = ledger_size
        self._client_buffer_bytes = client_buffer_bytes
        self._states: dict[str, SiteState] = {}
        # Partitions whose start was deleted by retention: their sites' history is incomplete.
        self._truncated: set[int] = set()
        self._partitions = 1
        self.loaded = False

    def set_partitions(self, count: int, truncated: set[int]) -> None:
        self._partitions = count
        self._truncated = set(truncated)

    def state(self, site_id: str) -> SiteState:
        state = self._states.get(site_id)
        if state is None:
            complete = partition_for(site_id.encode(), self._partitions) not in self._truncated
            state = SiteState(
                site_id,
                replay_size=self._replay_per_site,
                ledger_size=self._ledger_size,
                floor=-1 if complete else None,
            )
            self._states[site_id] = state
        return state

    def take(self, key: bytes | None, value: bytes | None, where: str) -> int:
        """Takes in one record of ``dashboard_updates``; returns the clients it was queued to."""
        if value is None:
            return self._skip("invalid", where, "record has no value")
        try:
            dashboard_update_adapter.validate_json(value)
            update = orjson.loads(value)
        except (ValidationError, orjson.JSONDecodeError) as exc:
            first = str(exc).splitlines()[0]
            return self._skip("invalid", where, f"not a dashboard update: {first}")
        site_id = update["site_id"]
        if key is not None and key.decode(errors="replace") != site_id:
            return self._skip("key_mismatch", where, f"key is not the update's site {site_id}")
        state = self.state(site_id)
        seq = int(update["seq"])
        sse_frame = frame(update["type"], one_line(value), seq)
        if not state.apply(update, sse_frame):
            GATEWAY_SKIPPED_UPDATES.labels("not_newer").inc()
            return 0
        queued, slow = self.registry.publish(site_id, sse_frame, seq)
        if queued:
            GATEWAY_MESSAGES.inc(queued)
        for client in slow:
            log.info("slow client disconnected", site_id=site_id, user_id=client.user_id)
        return queued

    def _skip(self, reason: str, where: str, detail: str) -> int:
        GATEWAY_SKIPPED_UPDATES.labels(reason).inc()
        log.warning("update skipped", reason=reason, at=where, detail=detail)
        return 0

    def connect(
        self, site_id: str, user_id: str, *, expires_at: float | None, position: int | None
    ) -> Client:
        """A registered client whose queue already holds its start: reset and snapshot, or the
        missed updates, or nothing (its position is the newest)."""
        state = self.state(site_id)
        start = plan_start(state, position, now_us=int(time.time() * 1_000_000))
        client = Client(
            site_id,
            user_id,
            expires_at=expires_at,
            limit_bytes=self._client_buffer_bytes,
            skip_through=start.skip_through,
        )
        if start.reset:
            GATEWAY_RESETS.inc()
            client.push_start(
                json_frame(
                    "reset",
                    {
                        "site_id": site_id,
                        "after": position,
                        "detail": "updates after this position are no longer held; "
                        "a fresh snapshot follows",
                    },
                )
            )
        if start.snapshot:
            seq = state.last_seq if state.last_seq >= 0 else None
            client.push_start(json_frame("snapshot", state.snapshot(), seq))
        elif position is not None:
            GATEWAY_REPLAY_DEPTH.observe(len(start.frames))
        for replayed in start.frames:
            client.push_start(replayed)
        self.registry.add(client)
        GATEWAY_CLIENTS.labels(site_bucket(site_id)).inc()
        return client

    def disconnect(self, client: Client, reason: str) -> None:
        self.registry.remove(client)
        GATEWAY_CLIENTS.labels(site_bucket(client.site_id)).dec()
        GATEWAY_CLOSED.labels(client.closing or reason).inc()

    def heartbeat(self) -> None:
        for client in self.registry.clients():
            client.push(HEARTBEAT)

    def expire(self, now: float) -> int:
        """Ends the streams whose token has expired; returns how many."""
        ended = 0
        for client in self.registry.clients():
            if (
                client.closing is None
                and client.expires_at is not None
                and client.expires_at <= now
            ):
                client.close(
                    "auth_expired",
                    json_frame(
                        "auth_expired", {"detail": "token expired; reconnect with a new one"}
                    ),
                )
                ended += 1
        return ended

    def revoke(self, members: dict[tuple[str, str], bool]) -> int:
        """Ends the streams of (user, site) pairs no longer members; returns how many."""
        ended = 0
        for client in self.registry.clients():
            if client.closing is None and members.get((client.user_id, client.site_id)) is False:
                client.close(
                    "access_revoked",
                    json_frame(
                        "access_revoked",
                        {"detail": f"user {client.user_id} is no longer a member of this site"},
                    ),
                )
                ended += 1
        return ended

    def shutdown(self) -> None:
        for client in self.registry.clients():
            client.close("shutdown", json_frame("disconnect", {"reason": "shutdown"}))

    def sites(self) -> int:
        return len(self._states)
