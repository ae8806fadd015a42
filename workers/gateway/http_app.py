"""The gateway's HTTP side: the page, one SSE stream per (client, site), and the probes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from workers.gateway.assets import PAGE_FILES, read_asset
from workers.gateway.auth import AuthError, TokenVerifier, bearer_token
from workers.gateway.hub import Hub, canonical_site_id
from workers.gateway.membership import MembershipCache, MembershipUnavailable
from workers.gateway.registry import Client
from workers.gateway.sse import BadPosition, opening, resume_position
from workers.observability.metrics import GATEWAY_AUTH_FAILURES
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

log = structlog.get_logger("pulse.gateway.http")

SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache, no-store",
    "X-Accel-Buffering": "no",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UPDATES_PATH = "/sites/{site_id}/updates"


def refusal(status: int, reason: str, message: str) -> web.Response:
    """A one-line refusal; ``X-Pulse-Reason`` carries the machine-readable reason."""
    GATEWAY_AUTH_FAILURES.labels(reason).inc()
    return web.Response(
        status=status,
        text=f"{message}\n",
        content_type="text/plain",
        headers={"X-Pulse-Reason": reason},
    )


class GatewayApp:
    def __init__(
        self,
        hub: Hub,
        verifier: TokenVerifier,
        membership: MembershipCache,
        readiness: Readiness,
        *,
        write_timeout_s: float,
        allowed_origins: frozenset[str] = frozenset(),
    ) -> None:
        self._hub = hub
        self._verifier = verifier
        self._membership = membership
        self._readiness = readiness
        self._write_timeout_s = write_timeout_s
        self._origins = allowed_origins
        self._streams: set[asyncio.Task[object]] = set()

    def build(self) -> web.Application:
        app = web.Application(middlewares=[self._cors])
        app.router.add_get("/", self._page)
        for name in PAGE_FILES:
            if name != "index.html":
                app.router.add_get(f"/{name}", self._asset(name))
        app.router.add_get(UPDATES_PATH, self._updates)
        app.router.add_get(HEALTH_PATH, self._probe(lambda: health_response(self._readiness)))
        app.router.add_get(READY_PATH, self._probe(lambda: ready_response(self._readiness)))
        app.router.add_get(METRICS_PATH, self._probe(metrics_response))
        app.on_shutdown.append(self._close_streams)
        return app

    def _allowed_origin(self, request: web.Request) -> str | None:
        origin = request.headers.get("Origin")
        if origin is not None and ("*" in self._origins or origin in self._origins):
            return origin
        return None

    def _allow(self, request: web.Request, response: web.StreamResponse) -> None:
        origin = self._allowed_origin(request)
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Last-Event-ID"
            response.headers["Access-Control-Expose-Headers"] = "X-Pulse-Reason"
            response.headers["Vary"] = "Origin"

    @web.middleware
    async def _cors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "OPTIONS" and self._allowed_origin(request) is not None:
            response: web.StreamResponse = web.Response(status=204)
        else:
            response = await handler(request)
        if not response.prepared:
            self._allow(request, response)
        return response

    async def _page(self, _request: web.Request) -> web.Response:
        body, content_type = read_asset("index.html")
        return web.Response(body=body, headers={"Content-Type": content_type})

    def _asset(self, name: str) -> Handler:
        async def serve(_request: web.Request) -> web.Response:
            body, content_type = read_asset(name)
            return web.Response(body=body, headers={"Content-Type": content_type})

        return serve

    @staticmethod
    def _probe(make: Callable[[], ProbeResponse]) -> Handler:
        async def serve(_request: web.Request) -> web.Response:
            probe = make()
            return web.Response(
                status=probe.status, body=probe.body, headers={"Content-Type": probe.content_type}
            )

        return serve

    async def _updates(self, request: web.Request) -> web.StreamResponse:
        site_id = canonical_site_id(request.match_info["site_id"])
        if site_id is None:
            return refusal(400, "bad_site", "site id is not a UUID")
        try:
            position = resume_position(
                request.headers.get("Last-Event-ID"), request.query.get("after")
            )
        except BadPosition as exc:
            return refusal(400, "bad_position", str(exc))
        try:
            token = bearer_token(
                request.headers.get("Authorization"), request.query.get("access_token")
            )
            claims = await self._verifier.verify(token)
            if not await self._membership.is_member(claims.user_id, site_id):
                raise AuthError(
                    403,
                    "not_member",
                    f"user {claims.user_id} is not a member of site {site_id}",
                )
        except AuthError as exc:
            return refusal(exc.status, exc.reason, exc.message)
        except MembershipUnavailable as exc:
            return refusal(503, "membership_unavailable", str(exc))
        if not self._hub.loaded:
            return refusal(503, "loading", "the gateway is still reading dashboard_updates")
        response = web.StreamResponse(headers=SSE_HEADERS)
        response.force_close()
        self._allow(request, response)
        await response.prepare(request)
        client = self._hub.connect(
            site_id, claims.user_id, expires_at=claims.expires_at, position=position
        )
        task = asyncio.current_task()
        if task is not None:
            self._streams.add(task)
        try:
            await self._write(response, opening())
            await self._pump(client, response)
        except TimeoutError:
            # Its unread bytes would hold the connection open; nothing more can reach it.
            if request.transport is not None:
                request.transport.abort()
        except ConnectionError:
            pass
        finally:
            if task is not None:
                self._streams.discard(task)
            self._hub.disconnect(client, "client_gone")
        return response

    async def _pump(self, client: Client, response: web.StreamResponse) -> None:
        """Writes the client's queue as it fills, one write per wake-up, until it closes."""
        while True:
            await client.wake.wait()
            if client.closing is not None:
                if client.final is not None:
                    with contextlib.suppress(ConnectionError):
                        await self._write(response, client.final)
                return
            chunk = client.take()
            if chunk:
                await self._write(response, chunk)

    async def _write(self, response: web.StreamResponse, data: bytes) -> None:
        # A socket that takes nothing for this long belongs to a client that is gone.
        await asyncio.wait_for(response.write(data), self._write_timeout_s)

    async def _close_streams(self, _app: web.Application) -> None:
        self._hub.shutdown()
        deadline = time.monotonic() + 2.0
        while self._streams and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
