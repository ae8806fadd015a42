"""Catch-ups during writes, and the five faults, through ``pulse worker``: every KPI, and every
call's and intent's last published state, equal the database.

The emulator runs with the hosted service's delays; the source catches up every second while two
writers run: generated traffic (6 sites, 2 % forged events, transactions of many statements) and
``RaceWriter``'s histories that a commit millisecond cannot order. Meanwhile the faults of the
issue come one after the other, each waited out: a socket drop, a join reply later than the
client's timeout, the next 200 changes dropped, a token expiry and a poller restart. When the
writes are over and two catch-ups have run, ``pulse audit``'s comparison must find no difference.

No row is deleted while a fault can lose its push: a catch-up cannot read a deleted row back, so
such a delete is outside what the source promises (README, gap recovery). The generated traffic
deletes nothing; ``RaceWriter`` deletes calls only away from the faults.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from schemas.changes import ChangeRecord
from tests.integration.ingest.realtime.conftest import JWT_SECRET, RunningEmulator
from tests.integration.ingest.realtime.harness import (
    RaceWriter,
    RunningSource,
    fast_options,
    in_order,
    make_sites,
    start_source,
    topic_changes,
    wait_until,
)
from tests.integration.stream.harness import start_worker
from workers.emulator.config import EmulatorConfig
from workers.emulator.control import EmulatorControl
from workers.emulator.server import Emulator
from workers.emulator.tokens import mint_token
from workers.settings import KafkaSettings
from workers.tools.audit import AuditReport, audit
from workers.tools.reading import TopicReader
from workers.traffic.generator import generate_in_thread

pytestmark = [pytest.mark.integration, pytest.mark.timeout(480)]

CONVERGE_WITHIN_S = 180.0


@pytest.fixture
async def realistic_emulator(fresh_db: str) -> AsyncIterator[RunningEmulator]:
    """The emulator with ``pulse emulator --realistic-delays``' delays."""
    config = EmulatorConfig(
        dsn=fresh_db,
        jwt_secret=JWT_SECRET,
        poll_interval_ms=50,
        connect_error_delay_ms=2000,
        channel_error_backoff_ms=5000,
        subscribe_delay_ms=1000,
    )
    instance = Emulator(config)
    await instance.start()
    control = EmulatorControl(instance.url)
    try:
        yield RunningEmulator(instance, control, mint_token(JWT_SECRET), fresh_db)
    finally:
        await control.close()
        await instance.stop()


def lives(source: RunningSource) -> int:
    return sum(1 for t in source.progress.tracker.history if t.status == "LIVE")


@contextlib.asynccontextmanager
async def deletes_held(race: RaceWriter) -> AsyncIterator[None]:
    """No DELETE from a second before a fault until a second after the source recovered."""
    race.deletes.clear()
    await asyncio.sleep(1.0)
    try:
        yield
    finally:
        await asyncio.sleep(1.0)
        race.deletes.set()


async def five_faults(emulator: RunningEmulator, source: RunningSource, race: RaceWriter) -> None:
    """Each fault, then a wait until the source is live again (or the changes were dropped)."""
    async with deletes_held(race):
        before = lives(source)
        await emulator.control.drop_socket(1006)
        await wait_until(lambda: lives(source) > before, "LIVE after the socket drop", 30, source)
    await asyncio.sleep(2)

    async with deletes_held(race):
        generation = source.progress.tracker.history[-1].generation
        await emulator.control.delay_join_reply(3000)
        await emulator.control.drop_socket(1011)
        await source.live(generation_at_least=generation + 1, within=40)
    await asyncio.sleep(2)

    async with deletes_held(race):
        counters = await emulator.control.counters()
        dropped_before = int(counters["changes_dropped"])
        await emulator.control.drop_next(200)
        deadline = time.monotonic() + 30
        while int((await emulator.control.counters())["changes_dropped"]) < dropped_before + 200:
            assert time.monotonic() < deadline, "the writes did not bring 200 changes to drop"
            await asyncio.sleep(0.2)
    await asyncio.sleep(2)

    async with deletes_held(race):
        generation = source.progress.tracker.history[-1].generation
        await emulator.control.expire_token()
        await source.live(generation_at_least=generation + 1, within=40)
    await asyncio.sleep(2)

    async with deletes_held(race):
        await emulator.control.pause_poller()
        await asyncio.sleep(1.0)
        await emulator.control.restart_poller()
        await emulator.control.resume_poller()
    await asyncio.sleep(2)


def figures(changes: list[ChangeRecord]) -> dict[str, int]:
    """Duplicates as the worker meets them (an event ID seen before), which of them were a
    catch-up read first and a push second, and pushed row states sharing a commit millisecond."""
    first_source: dict[str, str] = {}
    duplicates = catchup_then_push = 0
    for change in changes:
        seen = first_source.get(change.event_id)
        if seen is None:
            first_source[change.event_id] = change.source
            continue
        duplicates += 1
        catchup_then_push += seen == "realtime_catchup" and change.source == "realtime"
    states_per_ms: dict[tuple[str, str, int], set[Any]] = {}
    for change in changes:
        if change.source == "realtime" and change.record is not None:
            key = (change.table, str(change.record["id"]), int(change.event_id.split(":")[2]))
            states_per_ms.setdefault(key, set()).add(change.record.get("row_version"))
    shared = sum(len(states) for states in states_per_ms.values() if len(states) > 1)
    return {
        "duplicates": duplicates,
        "catchup_then_push_duplicates": catchup_then_push,
        "row_states_sharing_a_commit_ms": shared,
    }


async def audit_until_equal(dsn: str, kafka: KafkaSettings, worker_alive: Any) -> AuditReport:
    assert kafka.bootstrap_servers
    deadline = time.monotonic() + CONVERGE_WITHIN_S
    while True:
        with psycopg.connect(dsn) as conn:
            async with TopicReader(kafka.bootstrap_servers, kafka.updates_topic) as reader:
                report, invalid = await audit(conn, reader)
        assert invalid == 0
        if report.ok or time.monotonic() > deadline:
            return report
        worker_alive()
        await asyncio.sleep(3)


async def test_catch_ups_during_writes_and_five_faults_end_every_row_at_its_database_state(
    realistic_emulator: RunningEmulator, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    emulator = realistic_emulator
    minted: list[str] = []

    async def user_tokens() -> str:
        minted.append(
            mint_token(JWT_SECRET, role="authenticated", ttl_s=3600, sub=f"user-{len(minted)}")
        )
        return minted[-1]

    [race_site] = await make_sites(emulator.dsn, 1)
    worker = start_worker(
        kafka_settings,
        app_id=f"pulse-races-{uuid.uuid4().hex[:8]}",
        data_dir=tmp_path / "worker",
        database_url=emulator.dsn,
    )

    def worker_alive() -> None:
        assert worker.process.poll() is None, worker.log()[-3000:]

    options = fast_options(PULSE_REALTIME_CATCHUP_INTERVAL_S=1.0)
    source = start_source(
        emulator.url, emulator.service_key, kafka_settings, options, token_source=user_tokens
    )
    try:
        await source.live()
        race = RaceWriter(emulator.dsn, race_site)
        race.start()
        traffic = asyncio.create_task(
            generate_in_thread(
                emulator.dsn,
                sites=6,
                changes=4_000,
                forged_ratio=0.02,
                seed=27,
                rate=120,
                deletes=False,
            )
        )
        await asyncio.sleep(3)
        await five_faults(emulator, source, race)
        rounds = await race.stop()
        summary = await traffic
        await source.catchups_after_now(2, within=60)
        started = time.monotonic()
        report = await audit_until_equal(emulator.dsn, kafka_settings, worker_alive)
        converged_s = time.monotonic() - started
    finally:
        progress = await source.close()
        worker.stop()
    changes = await topic_changes(kafka_settings)
    measured = {
        "changes_pushed": progress.pushes,
        "catchup_rows": progress.catchup_rows,
        "catchups": progress.catchups,
        "catchup_failures": progress.catchup_failures,
        **figures(changes),
        "rows_compared": report.rows_compared,
        "rows_differing": len({(d.table, d.row_id) for d in report.row_differences}),
        "kpi_differences": len(report.differences),
        "traffic_changes": summary.changes,
        "race_rounds": rounds,
        "race_deletes": race.deleted,
        "audit_wait_s": round(converged_s, 1),
    }
    print("catch-up races:", orjson.dumps(measured).decode())

    lines = [
        f"{d.site_id} {d.day} {d.kpi}: sql {d.expected}, kafka {d.actual}"
        for d in report.differences
    ]
    lines += [
        f"{d.site_id} {d.table} {d.row_id} {d.field}: sql {d.expected}, kafka {d.actual}"
        for d in report.row_differences
    ]
    assert report.ok, "\n".join([str(measured), *lines[:40]])
    # The run met what it was meant to: every fault, losses that only catch-ups could fill, and
    # catch-up reads that raced the pushes of the same row states.
    statuses = [t.status for t in progress.tracker.history]
    assert in_order(
        statuses, ["LIVE", "CHANNEL_ERROR", "LIVE", "TIMED_OUT", "LIVE", "CLOSED", "LIVE"]
    ), statuses
    counters = await emulator.control.counters()
    assert counters["changes_dropped"] >= 200 and len(minted) >= 2
    assert progress.catchup_rows > 0 and measured["catchup_then_push_duplicates"] > 0
    assert race.deleted > 0
