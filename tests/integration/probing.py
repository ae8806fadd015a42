"""Asking a running ``pulse`` process's HTTP endpoints (``/readyz``, ``/metrics``) in tests."""

from __future__ import annotations

import asyncio
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import orjson


def metric(port: int, name: str, **labels: str) -> float | None:
    """The process's sample of ``name`` with exactly ``labels``, None if it has none."""
    wanted = "{" + ",".join(f'{key}="{value}"' for key, value in labels.items()) + "}"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as reply:
        for line in reply.read().decode().splitlines():
            head, _, value = line.rpartition(" ")
            if head == f"{name}{wanted}":
                return float(value)
    return None


def readyz(port: int) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as reply:
            return reply.status, orjson.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, orjson.loads(error.read())


async def wait_until(
    condition: Callable[[], bool],
    what: str,
    process: subprocess.Popen[bytes],
    log: Callable[[], str],
    timeout_s: float = 90,
) -> None:
    """Poll ``condition`` until it holds; fail if ``process`` exits or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if condition():
                return
        except OSError:
            pass  # the endpoints are not up yet
        assert process.poll() is None, f"the process exited:\n{log()[-4000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)
