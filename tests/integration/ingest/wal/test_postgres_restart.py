"""PostgreSQL restarts in the middle of a write load, with the WAL ingest and a stream worker
running against it: the ingest stays up, reconnects, resumes from its slot, and the KPIs end
exact. The worker's session lookups go through the same restart.

The cluster is the test's own (the shared one must never restart under other tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from prometheus_client import REGISTRY

from tests.integration.stream.harness import TopicReader, kpis_match, start_worker
from workers.ingest.settings import WalIngestSettings
from workers.ingest.wal.replication import SlotGone
from workers.ingest.wal.runner import IngestProgress, run_wal_ingest
from workers.kafka.topics import ensure_project_topics
from workers.observability.readiness import Readiness
from workers.services.database import create_database
from workers.services.postgres import PostgresCluster
from workers.settings import KafkaSettings, ReconnectSettings
from workers.traffic.generator import generate_in_thread

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]


def reconnects(dependency: str) -> float:
    labels = {"component": "ingest", "dependency": dependency}
    return REGISTRY.get_sample_value("pulse_reconnects_total", labels) or 0.0


def forged_event_ids(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT e.id::text FROM events e JOIN sessions s ON s.id = e.session_id "
            "WHERE s.site_id <> e.site_id"
        ).fetchall()
    return {row[0] for row in rows}


async def wait_until(condition: object, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_a_postgres_restart_mid_load_leaves_the_ingest_running_and_kpis_exact(
    own_cluster: PostgresCluster, kafka_settings: KafkaSettings, tmp_path: Path, mode: str
) -> None:
    dsn = create_database(own_cluster.dsn, f"t_{uuid.uuid4().hex[:12]}")
    topics = kafka_settings
    bootstrap = str(topics.bootstrap_servers)
    await ensure_project_topics(bootstrap, topics)
    stop = asyncio.Event()
    progress = IngestProgress()
    readiness = Readiness()
    before = reconnects("postgres")
    ingest = asyncio.create_task(
        run_wal_ingest(
            dsn,
            topics,
            WalIngestSettings(PULSE_HEARTBEAT_INTERVAL_S=1.0),
            stop,
            progress,
            readiness,
            ReconnectSettings(PULSE_RECONNECT_INITIAL_S=0.1, PULSE_RECONNECT_MAX_S=1.0),
        )
    )
    worker = None
    updates = TopicReader(bootstrap, topics.updates_topic)
    rejected = TopicReader(bootstrap, topics.rejected_topic)
    try:
        await asyncio.wait_for(progress.streaming.wait(), 60)
        worker = start_worker(
            topics,
            app_id=f"pulse-pg-{uuid.uuid4().hex[:8]}",
            data_dir=tmp_path / "w",
            database_url=dsn,
        )
        await updates.start()
        await rejected.start()

        # The load runs at a set rate so that the restart lands while rows are being written.
        load = asyncio.ensure_future(
            generate_in_thread(dsn, sites=3, changes=6_000, forged_ratio=0.02, seed=3, rate=1_500)
        )
        await wait_until(lambda: progress.changes_acked > 1_000, "the first acknowledged changes")
        await asyncio.to_thread(own_cluster.stop_server, mode)
        await wait_until(
            lambda: readiness.dependencies_away() == ["postgres"], "/readyz to name postgres"
        )
        assert not readiness.ready
        with pytest.raises(psycopg.OperationalError):
            await load  # the writer's connection died with the server: what it committed stays
        await asyncio.sleep(1.0)  # a few failed reconnect attempts
        assert not ingest.done()
        await asyncio.to_thread(own_cluster.start_server)
        await wait_until(lambda: readiness.ready, "the ingest to stream again")
        assert reconnects("postgres") == before + 1
        assert not ingest.done()

        # More load after the restart, on new sites.
        summary = await generate_in_thread(dsn, sites=2, changes=2_000, forged_ratio=0.02, seed=4)
        assert summary.changes == 2_000
        await updates.wait_for(kpis_match(dsn), quiet_s=3.0, timeout_s=180)
        forged = forged_event_ids(dsn)
        assert forged, "the load wrote no forged events"
        await rejected.wait_for(
            lambda values: (
                {r["payload"]["record"]["id"] for r in values if r["reason"] == "site_mismatch"}
                >= forged
            ),
            quiet_s=1.0,
            timeout_s=60,
        )
        mismatched = {
            r["payload"]["record"]["id"] for r in rejected.values if r["reason"] == "site_mismatch"
        }
        assert mismatched == forged
        assert {r["reason"] for r in rejected.values} == {"site_mismatch"}
        assert not ingest.done()
    finally:
        await updates.stop()
        await rejected.stop()
        if worker is not None:
            worker.stop()
        stop.set()
        await asyncio.wait_for(ingest, 60)


async def test_a_slot_dropped_under_the_ingest_is_a_fatal_error_naming_the_fix(
    fresh_db: str, kafka_settings: KafkaSettings
) -> None:
    bootstrap = str(kafka_settings.bootstrap_servers)
    await ensure_project_topics(bootstrap, kafka_settings)
    stop = asyncio.Event()
    progress = IngestProgress()
    options = WalIngestSettings(PULSE_HEARTBEAT_INTERVAL_S=1.0)
    ingest = asyncio.create_task(
        run_wal_ingest(
            fresh_db,
            kafka_settings,
            options,
            stop,
            progress,
            reconnect=ReconnectSettings(PULSE_RECONNECT_INITIAL_S=0.5, PULSE_RECONNECT_MAX_S=1.0),
        )
    )
    try:
        await asyncio.wait_for(progress.streaming.wait(), 60)
        # As an operator would: end the walsender, then drop the slot before the ingest is back.
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            deadline = time.monotonic() + 30
            while True:
                conn.execute(
                    "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                    "WHERE slot_name = %s AND active_pid IS NOT NULL",
                    (options.slot_name,),
                )
                with contextlib.suppress(psycopg.errors.ObjectInUse):
                    conn.execute("SELECT pg_drop_replication_slot(%s)", (options.slot_name,))
                    break
                assert time.monotonic() < deadline, "the slot could not be dropped"
                await asyncio.sleep(0.05)
        with pytest.raises(SlotGone) as gone:
            await asyncio.wait_for(ingest, 60)
        message = str(gone.value)
        assert f"replication slot {options.slot_name!r} is gone" in message
        assert "DELETE FROM realtime_pulse.ingest_state" in message
        # Restarting does not silently take a new snapshot either.
        with pytest.raises(SlotGone):
            await run_wal_ingest(fresh_db, kafka_settings, options, asyncio.Event())
    finally:
        stop.set()
        if not ingest.done():
            await asyncio.wait_for(ingest, 60)
