"""Supervising the ``realtime`` client: one client generation after another, never a dead stream.

The client reconnects a dropped socket and rejoins by itself, and that path is left to it. Every
other failure rebuilds the whole client on a new topic (``<prefix>_<instance>_<generation>``):

- CHANNEL_ERROR while the socket is up (a ``system`` error, ``phx_error``, a binding mismatch):
  the client would rejoin the same topic on the same socket, a duplicate join that the server
  answers with ``phx_close``, so the source rebuilds instead;
- TIMED_OUT: the late reply may still come, with the same duplicate-join ending;
- CLOSED: the client dropped the channel (token expired, server close);
- no "Subscribed to PostgreSQL" within ``live_deadline_s`` of losing it, which covers the client
  giving up after its reconnect attempts (it tells nobody);
- a manual request (``request_reconnect``; the runner maps SIGHUP to it).

Callbacks of an old generation are ignored, so a late TIMED_OUT of a closed client changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from realtime import (
    AsyncRealtimeClient,
    RealtimePostgresChangesListenEvent,
    RealtimeSubscribeStates,
)
from realtime.types import PostgresChangesPayload

from workers.ingest.realtime.status import Status
from workers.ingest.realtime.token import TokenKeeper
from workers.ingest.settings import RealtimeIngestSettings
from workers.observability.metrics import REALTIME_REBUILDS

log = structlog.get_logger("pulse.ingest.realtime.source")

OnChange = Callable[[dict[str, Any]], None]
OnStatus = Callable[[Status, str | None, int], None]
SUPERVISE_TICK_S = 0.2
CLOSE_TIMEOUT_S = 5.0


class RealtimeSource:
    def __init__(
        self,
        realtime_url: str,
        apikey: str,
        options: RealtimeIngestSettings,
        *,
        on_change: OnChange,
        on_status: OnStatus,
        keeper: TokenKeeper | None = None,
    ) -> None:
        self.realtime_url = realtime_url
        self.apikey = apikey
        self.options = options
        self.on_change = on_change
        self.on_status = on_status
        self.keeper = keeper
        self.instance = uuid.uuid4().hex[:8]
        self.generation = 0
        self.client: AsyncRealtimeClient | None = None
        self._rebuild = asyncio.Event()
        self._rebuild_reason = ""
        self._live = False
        self._lost_at = time.monotonic()
        self._was_live = False

    def topic(self, generation: int) -> str:
        return f"{self.options.channel_prefix}_{self.instance}_{generation}"

    def request_reconnect(self, reason: str = "manual") -> None:
        log.info("reconnect requested", reason=reason)
        self._rebuild_reason = reason
        self._rebuild.set()

    async def set_auth(self, token: str) -> None:
        if self.client is not None:
            await self.client.set_auth(token)

    async def run(self, stop: asyncio.Event) -> None:
        backoff = self.options.rebuild_backoff_s
        while not stop.is_set():
            self.generation += 1
            generation = self.generation
            self._rebuild.clear()
            self._rebuild_reason = ""
            self._live = False
            self._was_live = False
            self._lost_at = time.monotonic()
            client = AsyncRealtimeClient(
                self.realtime_url,
                token=self.apikey,
                auto_reconnect=True,
                hb_interval=self.options.heartbeat_s,
                max_retries=self.options.client_max_retries,
                initial_backoff=self.options.client_initial_backoff_s,
                timeout=self.options.join_timeout_s,
            )
            self.client = client
            try:
                await self._subscribe(client, generation)
                await self._supervise(stop)
            except Exception as exc:  # the client raises bare Exception when it cannot connect
                self._rebuild_reason = "cannot subscribe"
                self.on_status("CHANNEL_ERROR", f"cannot subscribe: {exc}", generation)
            finally:
                self.client = None
                await self._shutdown(client)
            if stop.is_set():
                return
            REALTIME_REBUILDS.labels(self._rebuild_reason or "error").inc()
            if self._was_live:
                backoff = self.options.rebuild_backoff_s
            log.info("rebuilding the realtime client", reason=self._rebuild_reason, wait_s=backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=backoff)
            backoff = min(backoff * 2, self.options.rebuild_backoff_max_s)

    async def _subscribe(self, client: AsyncRealtimeClient, generation: int) -> None:
        if self.keeper is not None:
            token = await (self.keeper.current() if generation == 1 else self.keeper.refresh())
            await client.set_auth(token)
        channel = client.channel(self.topic(generation))
        for table in self.options.tables:
            channel.on_postgres_changes(
                RealtimePostgresChangesListenEvent.All,
                self._change_callback(generation),
                table=table,
            )
        channel.on_system(self._system_callback(generation))
        await channel.subscribe(self._state_callback(generation, client))

    async def _supervise(self, stop: asyncio.Event) -> None:
        while not stop.is_set() and not self._rebuild.is_set():
            if not self._live and time.monotonic() - self._lost_at > self.options.live_deadline_s:
                self._rebuild_reason = "not live within the deadline"
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._rebuild.wait(), timeout=SUPERVISE_TICK_S)

    async def _shutdown(self, client: AsyncRealtimeClient) -> None:
        try:
            await asyncio.wait_for(client.close(), timeout=CLOSE_TIMEOUT_S)
        except Exception as exc:
            log.warning("closing the realtime client failed", error=str(exc))

    def _lose(self) -> None:
        if self._live:
            self._lost_at = time.monotonic()
        self._live = False

    def _state_callback(
        self, generation: int, client: AsyncRealtimeClient
    ) -> Callable[[RealtimeSubscribeStates, Exception | None], None]:
        def on_state(state: RealtimeSubscribeStates, error: Exception | None) -> None:
            if generation != self.generation:
                return
            detail = None if error is None else str(error)
            self._lose()
            self.on_status(state.value, detail, generation)
            if state == RealtimeSubscribeStates.CHANNEL_ERROR and client.is_connected:
                self.request_reconnect("channel error on a connected socket")
            elif state == RealtimeSubscribeStates.TIMED_OUT:
                self.request_reconnect("join timed out")
            elif state == RealtimeSubscribeStates.CLOSED:
                self.request_reconnect("channel closed")

        return on_state

    def _system_callback(self, generation: int) -> Callable[[Any], None]:
        def on_system(payload: Any) -> None:
            if generation != self.generation:
                return
            if payload.extension == "postgres_changes" and payload.status == "ok":
                self._live = True
                self._was_live = True
                self.on_status("LIVE", payload.message, generation)

        return on_system

    def _change_callback(self, generation: int) -> Callable[[PostgresChangesPayload], None]:
        def on_change(payload: PostgresChangesPayload) -> None:
            if generation == self.generation:
                self.on_change(dict(payload))

        return on_change
