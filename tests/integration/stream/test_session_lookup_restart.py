"""PostgreSQL restarts while the stream worker needs it to verify events: the lookups wait,
reconnect with backoff, and are answered, and the KPIs end exact.

No session reaches the stream before the events do, so every event needs a lookup; the
events are published while the server is down. The cluster is the test's own (the shared one
must never restart under other tests).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.integration.probing import metric, readyz, wait_until
from tests.integration.stream.harness import TopicReader, WorkerProcess, kpis_match, start_worker
from workers.changes.keying import KeyedChange
from workers.ingest.publisher import ChangePublisher, make_producer
from workers.ingest.wal.snapshot import snapshot_changes
from workers.services.database import create_database
from workers.services.ports import free_port
from workers.services.postgres import PostgresCluster
from workers.settings import KafkaSettings
from workers.traffic.generator import generate_in_thread

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]


def database_changes(dsn: str) -> list[KeyedChange]:
    """Every row of the database as the ingest's snapshot would publish it."""
    with (
        psycopg.connect(dsn, autocommit=True) as exporter,
        psycopg.connect(dsn, autocommit=True) as reader,
    ):
        exporter.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        row = exporter.execute("SELECT pg_export_snapshot()").fetchone()
        assert row is not None
        changes = list(snapshot_changes(reader, str(row[0])))
        exporter.execute("COMMIT")
    keyed = [change for change in changes if isinstance(change, KeyedChange)]
    assert len(keyed) == len(changes), "the generator wrote a row the ingest would reject"
    return keyed


async def publish(kafka: KafkaSettings, changes: list[KeyedChange]) -> None:
    assert kafka.bootstrap_servers
    producer = make_producer(kafka.bootstrap_servers)
    await producer.start()
    try:
        publisher = ChangePublisher(producer, kafka)
        for change in changes:
            publisher.add_encoded(change.site_id, change.body)
        await (await publisher.publish()).wait()
    finally:
        await producer.stop()


def forged_event_ids(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT e.id::text FROM events e JOIN sessions s ON s.id = e.session_id "
            "WHERE s.site_id <> e.site_id"
        ).fetchall()
    return {row[0] for row in rows}


async def test_session_lookups_wait_out_a_postgres_restart_and_the_kpis_end_exact(
    own_cluster: PostgresCluster,
    topics: KafkaSettings,
    app_id: str,
    data_root: Path,
    workers: list[WorkerProcess],
    updates: TopicReader,
    rejected: TopicReader,
) -> None:
    dsn = create_database(own_cluster.dsn, f"t_{uuid.uuid4().hex[:12]}")
    await generate_in_thread(dsn, sites=3, changes=3_000, forged_ratio=0.03, seed=11)
    changes = database_changes(dsn)
    events = [change for change in changes if change.table == "events"]
    forged = forged_event_ids(dsn)
    assert events and forged, "the generator wrote no events or no forged ones"
    metrics_port, web_port = free_port(), free_port()
    worker = start_worker(
        topics,
        app_id=app_id,
        data_dir=data_root / "w",
        database_url=dsn,
        env={
            "PULSE_WORKER_METRICS_PORT": str(metrics_port),
            "PULSE_WEB_PORT": str(web_port),
            "PULSE_RECONNECT_INITIAL_S": "0.1",
            "PULSE_RECONNECT_MAX_S": "1",
        },
    )
    workers.append(worker)
    link = {"component": "worker", "dependency": "postgres"}
    await wait_until(
        lambda: readyz(web_port)[0] == 200, "the worker to be ready", worker.process, worker.log
    )
    assert metric(metrics_port, "pulse_dependency_up", **link) == 1

    await asyncio.to_thread(own_cluster.stop_server, "fast")
    await publish(topics, events)
    # Only a lookup touches Postgres in the worker: the link going down shows one was needed.
    await wait_until(
        lambda: metric(metrics_port, "pulse_dependency_up", **link) == 0,
        "a session lookup to find Postgres gone",
        worker.process,
        worker.log,
    )
    status, body = readyz(web_port)
    assert (status, body.get("reconnecting_to")) == (503, ["postgres"])
    await asyncio.sleep(2.0)  # more failed attempts; the events stay undecided meanwhile
    assert not any(update.get("event_ids") for update in updates.values)
    assert not rejected.values

    await asyncio.to_thread(own_cluster.start_server)
    await wait_until(
        lambda: metric(metrics_port, "pulse_reconnects_total", **link) == 1,
        "the lookups to reconnect",
        worker.process,
        worker.log,
    )
    assert metric(metrics_port, "pulse_dependency_up", **link) == 1
    await wait_until(
        lambda: readyz(web_port)[0] == 200,
        "the worker to be ready again",
        worker.process,
        worker.log,
    )

    # The sessions and everything else after the events: the lookups alone decided them.
    await publish(topics, [change for change in changes if change.table != "events"])
    await updates.wait_for(kpis_match(dsn), quiet_s=3.0, timeout_s=180)
    await rejected.wait_for(lambda values: len(values) >= len(forged), quiet_s=2.0, timeout_s=60)
    mismatched = {
        r["payload"]["record"]["id"] for r in rejected.values if r["reason"] == "site_mismatch"
    }
    assert mismatched == forged
    assert len(rejected.values) == len(forged)
    assert metric(metrics_port, "pulse_reconnects_total", **link) == 1
    assert worker.process.poll() is None
