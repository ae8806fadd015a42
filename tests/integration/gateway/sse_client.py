"""A minimal SSE reader over aiohttp, for the gateway's tests: what a browser's EventSource sees."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson


@dataclass(frozen=True)
class Event:
    event: str
    id: str | None
    data: bytes

    def json(self) -> Any:
        return orjson.loads(self.data)


async def events(response: aiohttp.ClientResponse) -> AsyncIterator[Event]:
    """The events of an open stream until it ends (comments and ``retry`` are skipped)."""
    kind, ident, data = "message", None, b""
    async for raw in response.content:
        line = raw.rstrip(b"\r\n")
        if not line:
            if data:
                yield Event(kind, ident, data)
            kind, ident, data = "message", None, b""
        elif line.startswith(b":"):
            continue
        elif line.startswith(b"event: "):
            kind = line[7:].decode()
        elif line.startswith(b"id: "):
            ident = line[4:].decode()
        elif line.startswith(b"data: "):
            data = line[6:]


async def collect(
    response: aiohttp.ClientResponse, *, until: Any, timeout_s: float = 30.0
) -> list[Event]:
    """Events until ``until(events so far)`` is true or the stream ends (also when the server
    cuts the connection); TimeoutError after ``timeout_s`` otherwise."""
    got: list[Event] = []

    async def read() -> None:
        try:
            async for event in events(response):
                got.append(event)
                if until(got):
                    return
        except aiohttp.ClientPayloadError:
            return

    await asyncio.wait_for(read(), timeout_s)
    return got


def open_stream(
    http: aiohttp.ClientSession,
    base: str,
    site_id: str,
    token: str | None,
    *,
    last_event_id: str | None = None,
    query_token: bool = False,
) -> Any:
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    if token is not None:
        if query_token:
            params["access_token"] = token
        else:
            headers["Authorization"] = f"Bearer {token}"
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    return http.get(f"{base}/sites/{site_id}/updates", headers=headers, params=params)
