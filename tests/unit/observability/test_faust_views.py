"""The stream worker's probe views, served by a real Faust web server (no broker needed)."""

from __future__ import annotations

import uuid

import aiohttp
import faust

from workers.observability.faust_views import install_web_views
from workers.observability.readiness import RECOVERED, SOURCE_LIVE, Readiness
from workers.services.ports import free_port


async def test_views_answer_on_faust_web_server() -> None:
    port = free_port()
    app = faust.App(
        f"views-{uuid.uuid4().hex[:8]}",
        broker="kafka://127.0.0.1:1",
        web_bind="127.0.0.1",
        web_port=port,
        web_host="127.0.0.1",
    )
    readiness = Readiness()
    install_web_views(app, readiness)
    await app.web.start()
    try:
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/healthz") as response:
                assert response.status == 200
                assert await response.json() == {"status": "ok"}
            async with session.get(f"{base}/readyz") as response:
                assert response.status == 503
            readiness.set(RECOVERED)
            readiness.set(SOURCE_LIVE)
            async with session.get(f"{base}/readyz") as response:
                assert response.status == 200
                assert (await response.json())["status"] == "ready"
            async with session.get(f"{base}/metrics") as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/plain; version=")
                body = await response.text()
                assert 'pulse_readiness_condition{condition="source_live"} 1.0' in body
    finally:
        await app.web.stop()
