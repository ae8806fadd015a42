"""Driving the fan-out load process (``workers.bench.fanout_load``) from the benchmark."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import IO, Any

from workers.bench.process_usage import rss_mb
from workers.services import lifeline

CONNECT_CONCURRENCY = 256


class LoadProcess:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    @property
    def pid(self) -> int:
        return self.process.pid

    def _send(self, line: str) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(line + "\n")
        stdin.flush()

    def _receive(self) -> dict[str, Any]:
        stdout: IO[str] | None = self.process.stdout
        assert stdout is not None
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"the load process exited with status {self.process.wait()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def connect(self, host: str, port: int, clients: list[tuple[str, str]]) -> dict[str, Any]:
        """Opens every client's stream; how many connected, were refused or failed."""
        config = {
            "host": host,
            "port": port,
            "clients": clients,
            "connect_concurrency": CONNECT_CONCURRENCY,
        }
        self._send(json.dumps(config))
        return await asyncio.to_thread(self._receive)

    def measure(self) -> None:
        self._send("measure")

    async def stop(self) -> dict[str, Any]:
        """Ends the measurement: what the clients read meanwhile, and the process's peak RSS."""
        peak = rss_mb(self.pid)[1]
        self._send("stop")
        return {**await asyncio.to_thread(self._receive), "rss_mb": peak}


@contextlib.contextmanager
def load_process() -> Iterator[LoadProcess]:
    process = subprocess.Popen(
        [sys.executable, "-m", "workers.bench.fanout_load"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lifeline.watch(process.pid)
    try:
        yield LoadProcess(process)
    finally:
        if process.poll() is None:
            with contextlib.suppress(OSError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        lifeline.forget(process.pid)
