"""A small client of the emulator's fault API, for tests and for trying faults by hand."""

from __future__ import annotations

from typing import Any

import httpx


class EmulatorControl:
    def __init__(self, url: str) -> None:
        self._http = httpx.AsyncClient(base_url=url, timeout=30)

    async def close(self) -> None:
        await self._http.aclose()

    async def _post(self, action: str, **params: Any) -> dict[str, Any]:
        response = await self._http.post(f"/_emulator/{action}", params=params)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    async def drop_socket(self, code: int = 1006) -> dict[str, Any]:
        return await self._post("drop_socket", code=code)

    async def server_disconnect(self) -> dict[str, Any]:
        return await self._post("server_disconnect")

    async def channel_error(self, topic: str | None = None) -> dict[str, Any]:
        return await self._post("channel_error", **({"topic": topic} if topic else {}))

    async def channel_close(
        self, topic: str | None = None, message: str | None = None
    ) -> dict[str, Any]:
        params = {k: v for k, v in {"topic": topic, "message": message}.items() if v}
        return await self._post("channel_close", **params)

    async def pg_subscription_error(self, message: str, topic: str | None = None) -> dict[str, Any]:
        return await self._post(
            "pg_subscription_error", message=message, **({"topic": topic} if topic else {})
        )

    async def expire_token(self) -> dict[str, Any]:
        return await self._post("expire_token")

    async def pause_poller(self) -> dict[str, Any]:
        return await self._post("pause_poller")

    async def resume_poller(self) -> dict[str, Any]:
        return await self._post("resume_poller")

    async def restart_poller(self) -> dict[str, Any]:
        return await self._post("restart_poller")

    async def delay_subscribe(self, ms: float) -> dict[str, Any]:
        return await self._post("delay_subscribe", ms=ms)

    async def delay_join_reply(self, ms: float, count: int = 1) -> dict[str, Any]:
        return await self._post("delay_join_reply", ms=ms, count=count)

    async def mismatch_join(self, count: int = 1) -> dict[str, Any]:
        return await self._post("mismatch_join", count=count)

    async def duplicate_next(self, n: int) -> dict[str, Any]:
        return await self._post("duplicate_next", n=n)

    async def drop_next(self, n: int) -> dict[str, Any]:
        return await self._post("drop_next", n=n)

    async def rate_limit_on(self) -> dict[str, Any]:
        return await self._post("rate_limit_on")

    async def rate_limit_off(self) -> dict[str, Any]:
        return await self._post("rate_limit_off")

    async def refuse_connections(self, seconds: float) -> dict[str, Any]:
        """Answer websocket upgrades with HTTP 503 for a while, as during a Realtime restart."""
        return await self._post("refuse_connections", s=seconds)

    async def set_idle_timeout(self, seconds: float) -> dict[str, Any]:
        return await self._post("idle_timeout", s=seconds)

    async def counters(self) -> dict[str, Any]:
        response = await self._http.get("/_emulator/counters")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body
