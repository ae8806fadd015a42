"""The fan-out benchmark's load process: many SSE clients of one gateway in one event loop.

Run as ``python -m workers.bench.fanout_load``, apart from the gateway so that the gateway's CPU
is measured on its own. It talks to the bench over its stdin and stdout, one JSON line each way:

- in: ``{"host", "port", "clients": [[site_id, token], ...], "connect_concurrency"}``;
  out, once every client has connected or failed: ``{"connected", "refused", "failed"}``;
- in: ``measure``: counting starts (frames read before are the start of each stream);
- in: ``stop``: out, ``{"delivered", "seconds", "samples", "p50_ms", "p95_ms", "p99_ms",
  "max_ms", "lost", "stream_events", "cpu_s"}``, then it closes every connection and exits.

Each client is a bare ``asyncio.Protocol`` rather than an HTTP client library's response reader:
one callback per read and no task per connection keeps the load process's own cost per frame low.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any

from workers.bench.latency import percentile
from workers.bench.sse_frames import StreamTally, split_frames

CONNECT_TIMEOUT_S = 60.0


def raise_fd_limit() -> int:
    """Lifts the soft limit on open files to the hard one; returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def request_bytes(host: str, port: int, site_id: str, token: str) -> bytes:
    return (
        f"GET /sites/{site_id}/updates HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    ).encode()


class SseClient(asyncio.Protocol):
    def __init__(self, request: bytes, tally: StreamTally, lost: list[int]) -> None:
        self._request = request
        self._tally = tally
        self._lost = lost
        self._head = b""
        self._rest = b""
        self._streaming = False
        self.answered: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        if not self._streaming:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                return
            status = int(self._head.split(b" ", 2)[1])
            if not self.answered.done():
                self.answered.set_result(status)
            if status != 200:
                assert self.transport is not None
                self.transport.close()
                return
            self._streaming = True
            data, self._head = self._head[end + 4 :], b""
        frames, self._rest = split_frames(self._rest + data)
        if frames:
            self._tally.take(frames, time.time())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answered.done():
            self.answered.set_result(0)
        elif self._streaming:
            self._lost[0] += 1


async def connect_all(
    host: str, port: int, clients: list[tuple[str, str]], concurrency: int, tally: StreamTally
) -> tuple[list[SseClient], dict[str, int], list[int]]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(concurrency)
    lost = [0]
    outcomes: dict[str, int] = {"connected": 0, "refused": 0, "failed": 0}
    opened: list[SseClient] = []

    async def one(site_id: str, token: str) -> None:
        async with gate:
            client = SseClient(request_bytes(host, port, site_id, token), tally, lost)
            try:
                await asyncio.wait_for(
                    loop.create_connection(lambda: client, host, port), CONNECT_TIMEOUT_S
                )
                status = await asyncio.wait_for(client.answered, CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError):
                outcomes["failed"] += 1
                return
            opened.append(client)
            outcomes["connected" if status == 200 else "refused" if status else "failed"] += 1

    await asyncio.gather(*(one(site, token) for site, token in clients))
    return opened, outcomes, lost


def latency_summary(latencies_ms: list[float]) -> dict[str, float | int]:
    ordered = sorted(latencies_ms)
    return {
        "samples": len(ordered),
        "p50_ms": percentile(ordered, 0.50),
        "p95_ms": percentile(ordered, 0.95),
        "p99_ms": percentile(ordered, 0.99),
        "max_ms": ordered[-1] if ordered else float("nan"),
    }


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def read_line() -> str:
    line: str = await asyncio.to_thread(sys.stdin.readline)
    return line.strip()


def write_line(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def main() -> None:
    config = json.loads(await read_line())
    clients = [(site, token) for site, token in config["clients"]]
    limit = raise_fd_limit()
    if limit < len(clients) + 64:
        raise SystemExit(f"the open-files limit {limit} is too low for {len(clients)} clients")
    tally = StreamTally()
    opened, outcomes, lost = await connect_all(
        config["host"], config["port"], clients, config["connect_concurrency"], tally
    )
    write_line(outcomes)
    if await read_line() != "measure":
        return
    tally.start()
    started, cpu_start, lost_start = time.monotonic(), cpu_seconds(), lost[0]
    command = await read_line()
    seconds, cpu = time.monotonic() - started, cpu_seconds() - cpu_start
    tally.measuring = False
    if command == "stop":
        write_line(
            {
                "delivered": tally.delivered,
                "seconds": seconds,
                **latency_summary(tally.latencies_ms),
                "lost": lost[0] - lost_start,
                "stream_events": tally.stream_events,
                "cpu_s": cpu,
            }
        )
    for client in opened:
        if client.transport is not None:
            client.transport.abort()


if __name__ == "__main__":
    asyncio.run(main())
