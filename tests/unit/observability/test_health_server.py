"""The ingest worker's HTTP server: the three endpoints on a real socket, readiness flipping."""

from __future__ import annotations

import aiohttp
import pytest
from prometheus_client import REGISTRY

from workers.observability.health_server import HealthServer
from workers.observability.metrics import DEDUP_HITS
from workers.observability.readiness import RECOVERED, SOURCE_LIVE, Readiness
from workers.services.ports import free_port


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, str, str]:
    async with session.get(url) as response:
        return response.status, response.headers["Content-Type"], await response.text()


async def test_endpoints_follow_readiness() -> None:
    readiness = Readiness()
    port = free_port()
    async with HealthServer(readiness, port=port) as server, aiohttp.ClientSession() as session:
        assert server.port == port
        base = f"http://127.0.0.1:{port}"

        status, _, body = await _get(session, f"{base}/healthz")
        assert (status, body) == (200, '{"status":"ok"}')
        status, _, body = await _get(session, f"{base}/readyz")
        assert status == 503
        assert '"recovered":false' in body and '"source_live":false' in body

        readiness.set(RECOVERED)
        assert (await _get(session, f"{base}/readyz"))[0] == 503
        readiness.set(SOURCE_LIVE)
        status, _, body = await _get(session, f"{base}/readyz")
        assert (status, body) == (
            200,
            '{"status":"ready","conditions":{"recovered":true,"source_live":true}}',
        )

        readiness.clear(SOURCE_LIVE)
        assert (await _get(session, f"{base}/readyz"))[0] == 503
        readiness.set(SOURCE_LIVE)

        readiness.stalled("fetch", "no fetch from partition 2")
        status, _, body = await _get(session, f"{base}/healthz")
        assert status == 503 and "no fetch from partition 2" in body
        assert (await _get(session, f"{base}/readyz"))[0] == 503
        readiness.stalled("fetch", None)
        assert (await _get(session, f"{base}/healthz"))[0] == 200
        assert (await _get(session, f"{base}/readyz"))[0] == 200

        readiness.fail("reader task died")
        status, _, body = await _get(session, f"{base}/healthz")
        assert status == 503 and "reader task died" in body
        assert (await _get(session, f"{base}/readyz"))[0] == 503


async def test_metrics_are_live_prometheus_text() -> None:
    readiness = Readiness()
    async with HealthServer(readiness) as server, aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{server.port}/metrics"
        before = REGISTRY.get_sample_value("pulse_dedup_hits_total") or 0.0
        DEDUP_HITS.inc(3)
        status, content_type, body = await _get(session, url)
        assert status == 200
        assert content_type.startswith("text/plain; version=")
        assert f"pulse_dedup_hits_total {before + 3}" in body
        assert 'pulse_readiness_condition{condition="recovered"} 0.0' in body
        readiness.set(RECOVERED)
        _, _, body = await _get(session, url)
        assert 'pulse_readiness_condition{condition="recovered"} 1.0' in body


async def test_port_is_released_on_exit() -> None:
    server = HealthServer(Readiness())
    async with server:
        port = server.port
    with pytest.raises(RuntimeError):
        _ = server.port
    async with HealthServer(Readiness(), port=port) as again:
        assert again.port == port


async def test_busy_port_fails_at_start() -> None:
    async with HealthServer(Readiness()) as first:
        with pytest.raises(OSError):
            await HealthServer(Readiness(), port=first.port).start()


def test_unknown_condition_is_refused() -> None:
    readiness = Readiness()
    with pytest.raises(KeyError, match="unknown readiness condition 'recoverd'"):
        readiness.set("recoverd")
