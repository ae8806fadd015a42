"""The emulator process: one loopback HTTP server for Realtime, PostgREST and the fault API.

Paths: ``/socket/websocket`` and ``/realtime/v1/websocket`` (Realtime), ``/rest/v1/<table>``
(PostgREST subset), ``/_emulator/...`` (fault injection and counters, loopback only, test use).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import structlog
from aiohttp import web

from workers.emulator.changes_feed import ChangesFeed
from workers.emulator.config import EmulatorConfig
from workers.emulator.faults import Counters, Faults
from workers.emulator.postgrest import PostgrestHandler
from workers.emulator.realtime_server import RealtimeServer

log = structlog.get_logger("pulse.emulator")

ALLOWED_CLOSE_CODES = (1000, 1001, 1006, 1011, 1012)


class Emulator:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.faults = Faults()
        self.counters = Counters()
        self.realtime = RealtimeServer(config, self.faults, self.counters)
        self.postgrest = PostgrestHandler(config.dsn, config.jwt_secret, self.counters)
        self.feed = ChangesFeed(
            config.dsn,
            config.publication,
            self.realtime.deliver,
            poll_interval_ms=config.poll_interval_ms,
            max_changes=config.max_changes,
            max_record_bytes=config.max_record_bytes,
        )
        self.port = config.port
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def url(self) -> str:
        """What ``SUPABASE_URL`` would be."""
        return f"http://{self.config.host}:{self.port}"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/socket/websocket", self.realtime.handle)
        app.router.add_get("/realtime/v1/websocket", self.realtime.handle)
        app.router.add_get("/rest/v1/{table}", self.postgrest.handle)
        control = web.RouteTableDef()

        @control.post("/_emulator/drop_socket")
        async def drop_socket(request: web.Request) -> web.Response:
            code = int(request.query.get("code", "1006"))
            if code not in ALLOWED_CLOSE_CODES:
                return web.json_response(
                    {"error": f"code must be one of {ALLOWED_CLOSE_CODES}"}, status=400
                )
            return web.json_response({"sockets": await self.realtime.drop_sockets(code)})

        @control.post("/_emulator/server_disconnect")
        async def server_disconnect(request: web.Request) -> web.Response:
            return web.json_response({"sockets": await self.realtime.server_disconnect()})

        @control.post("/_emulator/channel_error")
        async def channel_error(request: web.Request) -> web.Response:
            channels = self.realtime.channels(request.query.get("topic"))
            for channel in channels:
                channel.session.send_error(channel)
            return web.json_response({"channels": len(channels)})

        @control.post("/_emulator/channel_close")
        async def channel_close(request: web.Request) -> web.Response:
            channels = self.realtime.channels(request.query.get("topic"))
            for channel in channels:
                self.realtime.close_channel(channel, request.query.get("message"))
            return web.json_response({"channels": len(channels)})

        @control.post("/_emulator/pg_subscription_error")
        async def pg_subscription_error(request: web.Request) -> web.Response:
            channels = self.realtime.channels(request.query.get("topic"))
            message = request.query.get("message", "Too many database timeouts")
            for channel in channels:
                channel.subscriptions = []
                self.realtime.system_error(channel, "postgres_changes", message)
            return web.json_response({"channels": len(channels)})

        @control.post("/_emulator/expire_token")
        async def expire_token(request: web.Request) -> web.Response:
            return web.json_response({"channels": self.realtime.expire_tokens()})

        @control.post("/_emulator/pause_poller")
        async def pause_poller(request: web.Request) -> web.Response:
            self.feed.paused = True
            return web.json_response({"paused": True})

        @control.post("/_emulator/resume_poller")
        async def resume_poller(request: web.Request) -> web.Response:
            self.feed.paused = False
            return web.json_response({"paused": False})

        @control.post("/_emulator/restart_poller")
        async def restart_poller(request: web.Request) -> web.Response:
            await self.feed.restart()
            return web.json_response({"slot": self.feed.slot_name})

        @control.post("/_emulator/delay_subscribe")
        async def delay_subscribe(request: web.Request) -> web.Response:
            self.realtime.subscribe_delay_ms = float(request.query["ms"])
            return web.json_response({"ms": self.realtime.subscribe_delay_ms})

        @control.post("/_emulator/delay_join_reply")
        async def delay_join_reply(request: web.Request) -> web.Response:
            self.faults.join_reply_delay_ms = float(request.query["ms"])
            self.faults.join_reply_delays_left = int(request.query.get("count", "1"))
            return web.json_response({"ms": self.faults.join_reply_delay_ms})

        @control.post("/_emulator/mismatch_join")
        async def mismatch_join(request: web.Request) -> web.Response:
            self.faults.mismatch_joins_left = int(request.query.get("count", "1"))
            return web.json_response({"count": self.faults.mismatch_joins_left})

        @control.post("/_emulator/duplicate_next")
        async def duplicate_next(request: web.Request) -> web.Response:
            self.faults.duplicate_next = int(request.query["n"])
            return web.json_response({"n": self.faults.duplicate_next})

        @control.post("/_emulator/drop_next")
        async def drop_next(request: web.Request) -> web.Response:
            self.faults.drop_next = int(request.query["n"])
            return web.json_response({"n": self.faults.drop_next})

        @control.post("/_emulator/rate_limit_on")
        async def rate_limit_on(request: web.Request) -> web.Response:
            self.faults.rate_limited = True
            return web.json_response({"rate_limited": True})

        @control.post("/_emulator/rate_limit_off")
        async def rate_limit_off(request: web.Request) -> web.Response:
            self.faults.rate_limited = False
            return web.json_response({"rate_limited": False})

        @control.post("/_emulator/refuse_connections")
        async def refuse_connections(request: web.Request) -> web.Response:
            seconds = float(request.query["s"])
            self.realtime.refuse_until = time.monotonic() + seconds
            return web.json_response({"s": seconds})

        @control.post("/_emulator/idle_timeout")
        async def idle_timeout(request: web.Request) -> web.Response:
            self.realtime.idle_timeout_s = float(request.query["s"])
            return web.json_response({"s": self.realtime.idle_timeout_s})

        @control.get("/_emulator/counters")
        async def counters(request: web.Request) -> web.Response:
            body: dict[str, Any] = self.counters.as_dict()
            body["poller"] = {
                "slot": self.feed.slot_name,
                "paused": self.feed.paused,
                "changes_read": self.feed.changes_read,
            }
            return web.json_response(body)

        app.add_routes(control)
        return app

    async def start(self) -> None:
        await self.feed.open()
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        # With port 0 the system picks one; the runner lists the addresses it bound.
        address = self._runner.addresses[0]
        self.port = int(address[1])
        self._tasks = [
            asyncio.create_task(self.feed.run()),
            asyncio.create_task(self.realtime.watch_publication()),
        ]
        log.info("emulator listening", url=self.url)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.realtime.drop_sockets(1001)
        if self._runner is not None:
            await self._runner.cleanup()
        await self.feed.close()
        await self.realtime.close()
        await self.postgrest.close()
