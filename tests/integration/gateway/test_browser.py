"""The dashboard page in a real Chromium (Debian's, driven by playwright) on the whole pipeline:
Postgres rows in, the page's KPI card moves; the gateway stops and restarts while rows keep
coming; a token for another site gets an error and no data. Screenshots land in each test's
temporary directory."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.integration.gateway.pipeline import (
    Child,
    add_activity,
    add_site,
    start_gateway,
    start_worker,
)
from tests.unit.gateway.tokens import user_token
from workers.ingest.settings import WalIngestSettings
from workers.ingest.wal.runner import IngestProgress, run_wal_ingest
from workers.kpis.sql import recompute_kpis
from workers.services.ports import free_port
from workers.settings import KafkaSettings

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PIPELINE_S = 120_000  # ms: a first update waits for the worker's group to form


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 - once, before the browser starts
        pytest.fail(f"{CHROMIUM} is missing: scripts/install-system-packages installs it")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def ingest(fresh_db: str, topics: KafkaSettings) -> AsyncIterator[None]:
    stop = asyncio.Event()
    progress = IngestProgress()
    task = asyncio.create_task(
        run_wal_ingest(
            fresh_db, topics, WalIngestSettings(PULSE_HEARTBEAT_INTERVAL_S=1.0), stop, progress
        )
    )
    await asyncio.wait_for(progress.streaming.wait(), 60)
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


@pytest.fixture
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in reversed(started):
        child.stop()


def sql_kpis(dsn: str, site_id: str, day: date) -> dict[str, str]:
    with psycopg.connect(dsn) as conn:
        kpis = recompute_kpis(conn, site_id, day)[(site_id, day)]
    return {
        "sessions": str(kpis.sessions),
        "events": str(kpis.events),
        "calls": str(kpis.calls),
        "intents": str(kpis.intents),
        "conversions": str(kpis.conversions),
    }


async def page_kpis(page: Page) -> dict[str, str]:
    return {
        key: await page.locator(f"#kpi-{key}").inner_text()
        for key in ("sessions", "events", "calls", "intents", "conversions")
    }


async def until_kpis_equal_sql(page: Page, dsn: str, site_id: str, timeout_s: float) -> None:
    day = datetime.now(UTC).date()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        expected = sql_kpis(dsn, site_id, day)
        shown = await page_kpis(page)
        if shown == expected and await page.locator("#kpi-day").inner_text() == day.isoformat():
            return
        if loop.time() > deadline:
            raise AssertionError(f"the page shows {shown}, SQL says {expected}")
        await asyncio.sleep(0.5)


async def test_the_page_follows_rows_survives_a_gateway_restart_and_equals_sql(
    browser: Browser,
    ingest: None,
    fresh_db: str,
    topics: KafkaSettings,
    children: list[Child],
    tmp_path: Path,
) -> None:
    user = str(uuid.uuid4())
    site = add_site(fresh_db, [user])
    port = free_port()
    children.append(start_worker(topics, fresh_db, tmp_path))
    gateway = start_gateway(topics, fresh_db, tmp_path, port)
    children.append(gateway)
    page = await browser.new_page()
    url = f"http://127.0.0.1:{port}/?site={site}&token={user_token(user)}&offline_after=3000"
    await page.goto(url)
    await expect(page.locator("#pulse")).to_have_attribute("data-status", "live")

    # Rows in Postgres: the KPI card moves.
    add_activity(fresh_db, site, events=3)
    await expect(page.locator("#kpi-events")).to_have_text("3", timeout=PIPELINE_S)
    await expect(page.locator("#kpi-sessions")).to_have_text("1")
    await expect(page.locator("#ledger tr")).to_have_count(1)
    assert int(await page.locator("#event-count").inner_text()) > 0
    await page.screenshot(path=str(tmp_path / "1-live.png"))

    # The gateway stops: Reconnecting, then Offline.
    gateway.stop()
    await expect(page.locator("#pulse")).to_have_attribute("data-status", "reconnecting")
    await expect(page.locator("#pulse-label")).to_have_text("Reconnecting")
    await page.screenshot(path=str(tmp_path / "2-reconnecting.png"))
    await expect(page.locator("#pulse")).to_have_attribute("data-status", "offline", timeout=15_000)
    await page.screenshot(path=str(tmp_path / "3-offline.png"))

    # Rows keep coming while it is down and after it is back: the page catches up to SQL.
    writing = threading.Event()

    def write_rows() -> None:
        while not writing.is_set():
            add_activity(fresh_db, site, events=2)
            writing.wait(0.2)

    writer = asyncio.create_task(asyncio.to_thread(write_rows))
    await asyncio.sleep(2)
    children.append(start_gateway(topics, fresh_db, tmp_path, port))
    await expect(page.locator("#pulse")).to_have_attribute("data-status", "live", timeout=30_000)
    await asyncio.sleep(2)
    writing.set()
    await writer
    await until_kpis_equal_sql(page, fresh_db, site, timeout_s=120)
    await page.screenshot(path=str(tmp_path / "4-caught-up.png"))
    assert await page.locator("#error").is_hidden()


async def test_a_token_for_another_site_gets_an_error_and_no_data(
    browser: Browser,
    topics: KafkaSettings,
    fresh_db: str,
    children: list[Child],
    tmp_path: Path,
) -> None:
    owner, stranger = str(uuid.uuid4()), str(uuid.uuid4())
    site = add_site(fresh_db, [owner])
    add_site(fresh_db, [stranger])
    add_activity(fresh_db, site, events=2)
    port = free_port()
    children.append(start_gateway(topics, fresh_db, tmp_path, port))
    page = await browser.new_page()
    await page.goto(f"http://127.0.0.1:{port}/?site={site}&token={user_token(stranger)}")
    error = page.locator("#error")
    await expect(error).to_be_visible()
    await expect(error).to_contain_text(f"403: user {stranger} is not a member of site {site}")
    await expect(page.locator("#pulse")).to_have_attribute("data-status", "offline")
    assert await page.locator("#kpi-events").inner_text() == "—"
    assert await page.locator("#event-count").inner_text() == "0"
    assert await page.locator("#ledger tr").count() == 0
    await page.screenshot(path=str(tmp_path / "other-site.png"))
