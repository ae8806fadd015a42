"""The loop watchdog: a real event loop blocked by ``time.sleep``, asked over HTTP afterwards."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.error
import urllib.request

import aiohttp
import pytest

from workers.logs import configure_logging
from workers.observability.health_server import HealthServer
from workers.observability.loop_watchdog import LoopWatchdog, StallClock, check_interval
from workers.observability.readiness import Readiness
from workers.settings import LogSettings

LIMIT_S = 0.4


@pytest.fixture(autouse=True)
def _log_to_this_tests_stderr() -> None:
    # The watchdog logs from its thread; an earlier test may have left structlog writing to a
    # capture stream that is closed by now.
    configure_logging(LogSettings(PULSE_LOG_FORMAT="json", PULSE_LOG_LEVEL="info"))


def test_stall_clock_counts_only_while_the_loop_runs() -> None:
    clock = StallClock(limit_s=10.0)
    assert clock.stalled_for(now=100.0, running=True, last_beat=95.0) is None
    assert clock.stalled_for(now=120.0, running=True, last_beat=105.0) == 15.0
    # A loop that was not running (between Faust's start and stop phases) is no stall, and the
    # time it spent stopped does not count once it runs again.
    assert clock.stalled_for(now=200.0, running=False, last_beat=105.0) is None
    assert clock.stalled_for(now=205.0, running=True, last_beat=105.0) is None
    assert clock.stalled_for(now=216.0, running=True, last_beat=105.0) == 11.0


def test_check_interval() -> None:
    assert check_interval(0.4) == 0.1
    assert check_interval(30.0) == 1.0


async def _health(session: aiohttp.ClientSession, port: int) -> tuple[int, str]:
    async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
        return response.status, await response.text()


def _ask_from_a_thread(port: int, timeout: float, answers: list[object]) -> threading.Thread:
    def ask() -> None:
        try:
            url = f"http://127.0.0.1:{port}/healthz"
            with urllib.request.urlopen(url, timeout=timeout) as response:
                answers.append(response.status)
        except urllib.error.HTTPError as exc:
            answers.append(exc.code)
        except OSError as exc:
            answers.append(type(exc).__name__)

    thread = threading.Thread(target=ask)
    thread.start()
    return thread


async def test_healthz_fails_after_the_loop_stalled_past_the_limit() -> None:
    readiness = Readiness()
    async with (
        HealthServer(readiness) as server,
        LoopWatchdog(readiness, limit_s=LIMIT_S),
        aiohttp.ClientSession() as session,
    ):
        await asyncio.sleep(3 * LIMIT_S)
        assert await _health(session, server.port) == (200, '{"status":"ok"}')

        during: list[object] = []
        asker = _ask_from_a_thread(server.port, timeout=LIMIT_S, answers=during)
        time.sleep(4 * LIMIT_S)  # noqa: ASYNC251 (blocks the loop that serves /healthz on purpose)
        asker.join()
        assert during == ["TimeoutError"], "a stalled loop answers nothing"

        status, body = await _health(session, server.port)
        assert status == 503
        assert "event loop stalled" in body and "PULSE_LOOP_STALL_LIMIT_S" in body
        await asyncio.sleep(3 * LIMIT_S)
        assert (await _health(session, server.port))[0] == 503, "a stall is not forgotten"


async def test_a_block_shorter_than_the_limit_keeps_healthz_ok() -> None:
    readiness = Readiness()
    async with (
        HealthServer(readiness) as server,
        LoopWatchdog(readiness, limit_s=LIMIT_S),
        aiohttp.ClientSession() as session,
    ):
        await asyncio.sleep(2 * LIMIT_S)
        for _ in range(3):
            time.sleep(LIMIT_S / 2)  # noqa: ASYNC251 (a short block on purpose)
            await asyncio.sleep(0.05)
        assert await _health(session, server.port) == (200, '{"status":"ok"}')
