"""``/metrics``, ``/healthz`` and ``/readyz`` for the ingest worker, on its own small HTTP server.

aiohttp (already installed for Faust) rather than ``prometheus_client.start_http_server``: it
runs on the worker's event loop, so no extra thread, and one server carries all three paths.

How to wire it (in the ingest command, around the ingest coroutine):

    readiness = Readiness()
    async with HealthServer(readiness, host="0.0.0.0", port=options.metrics_port):
        await run_ingest(..., readiness=readiness)   # sets RECOVERED and SOURCE_LIVE as it goes

``port=0`` binds a free port (read it back from ``server.port``). The server stops, and the port
is released, when the ``async with`` block exits.
"""

from __future__ import annotations

from types import TracebackType

from aiohttp import web

from workers.observability.probes import (
    HEALTH_PATH,
    METRICS_PATH,
    READY_PATH,
    ProbeResponse,
    health_response,
    metrics_response,
    ready_response,
)
from workers.observability.readiness import Readiness


def _as_aiohttp(probe: ProbeResponse) -> web.Response:
    return web.Response(
        status=probe.status, body=probe.body, headers={"Content-Type": probe.content_type}
    )


class HealthServer:
    def __init__(self, readiness: Readiness, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._readiness = readiness
        self._host = host
        self._requested_port = port
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the health server is not running")
        return self._port

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get(METRICS_PATH, self._metrics)
        app.router.add_get(HEALTH_PATH, self._health)
        app.router.add_get(READY_PATH, self._ready)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._requested_port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        sockets = [s for s in runner.addresses if isinstance(s, tuple)]
        self._port = int(sockets[0][1])
        self._runner = runner

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._port = None

    async def __aenter__(self) -> HealthServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _metrics(self, _request: web.Request) -> web.Response:
        return _as_aiohttp(metrics_response())

    async def _health(self, _request: web.Request) -> web.Response:
        return _as_aiohttp(health_response(self._readiness))

    async def _ready(self, _request: web.Request) -> web.Response:
        return _as_aiohttp(ready_response(self._readiness))
