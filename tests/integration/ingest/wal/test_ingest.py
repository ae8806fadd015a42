"""The WAL source on a real Postgres and the real broker: ops, keys, old rows, snapshot, IDs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest

from schemas.changes import ChangeRecord
from tests.integration.topic_reading import read_changes, read_rejected
from workers.ingest.settings import WalIngestSettings
from workers.ingest.wal.runner import IngestProgress, run_wal_ingest
from workers.settings import KafkaSettings


class RunningIngest:
    def __init__(self, dsn: str, kafka: KafkaSettings) -> None:
        self.stop = asyncio.Event()
        self.progress = IngestProgress()
        options = WalIngestSettings(PULSE_HEARTBEAT_INTERVAL_S=0.5)
        self.task = asyncio.create_task(
            run_wal_ingest(dsn, kafka, options, self.stop, self.progress)
        )

    async def started(self) -> None:
        waiter = asyncio.ensure_future(self.progress.streaming.wait())
        done, _ = await asyncio.wait(
            {waiter, self.task}, timeout=60, return_when=asyncio.FIRST_COMPLETED
        )
        if self.task in done:
            self.task.result()
        assert waiter in done, "ingest did not start streaming within 60 s"

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)


@pytest.fixture
async def ingest(fresh_db: str, kafka_settings: KafkaSettings) -> AsyncIterator[RunningIngest]:
    running = RunningIngest(fresh_db, kafka_settings)
    await running.started()
    try:
        yield running
    finally:
        await running.close()


def by_table(changes: list[ChangeRecord], table: str) -> list[ChangeRecord]:
    return [change for change in changes if change.table == table]


async def test_every_table_and_op_arrives_keyed_by_site(
    ingest: RunningIngest, fresh_db: str, kafka_settings: KafkaSettings
) -> None:
    site, other_site = str(uuid.uuid4()), str(uuid.uuid4())
    session, event, call, intent = (str(uuid.uuid4()) for _ in range(4))
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("INSERT INTO sites (id, name) VALUES (%s, 'a'), (%s, 'b')", (site, other_site))
        conn.execute("INSERT INTO sessions (id, site_id) VALUES (%s, %s)", (session, site))
        conn.execute(
            "INSERT INTO events (id, session_id, site_id, name) VALUES (%s, %s, %s, 'view')",
            (event, session, other_site),
        )
        conn.execute(
            "INSERT INTO calls (id, site_id, session_id) VALUES (%s, %s, %s)", (call, site, session)
        )
        conn.execute(
            "INSERT INTO intents (id, site_id, session_id, call_id) VALUES (%s, %s, %s, %s)",
            (intent, site, session, call),
        )
        conn.execute(
            "UPDATE sessions SET last_seen_at = now() + interval '1 s' WHERE id = %s", (session,)
        )
        conn.execute("UPDATE calls SET status = 'answered' WHERE id = %s", (call,))
        conn.execute(
            "UPDATE intents SET status = 'sealed', sealed_at = now() WHERE id = %s", (intent,)
        )
        conn.execute("UPDATE events SET name = 'click' WHERE id = %s", (event,))
        conn.execute("DELETE FROM intents WHERE id = %s", (intent,))
        conn.execute("DELETE FROM calls WHERE id = %s", (call,))
        conn.execute("DELETE FROM events WHERE id = %s", (event,))
        conn.execute("DELETE FROM sessions WHERE id = %s", (session,))
        conn.execute("UPDATE sites SET name = 'b2' WHERE id = %s", (other_site,))
        conn.execute("DELETE FROM sites WHERE id = %s", (site,))
    assert kafka_settings.bootstrap_servers
    changes = await read_changes(
        kafka_settings.bootstrap_servers, kafka_settings.changes_topic, min_changes=16
    )
    assert len(changes) == 16
    assert all(change.source == "wal" and change.lsn for change in changes)

    for table, row_id in (("sessions", session), ("calls", call), ("intents", intent)):
        ops = [
            (c.op, c.site_id)
            for c in by_table(changes, table)
            if (c.record or c.old_record or {})["id"] == row_id
        ]
        assert ops == [("INSERT", site), ("UPDATE", site), ("DELETE", site)], table
    # events are keyed by the site the row claims; verification is the stream worker's job
    assert [(c.op, c.site_id) for c in by_table(changes, "events")] == [
        ("INSERT", other_site),
        ("UPDATE", other_site),
        ("DELETE", other_site),
    ]
    # order holds within a site (one partition), not across sites
    site_ops = [(c.op, c.site_id) for c in by_table(changes, "sites")]
    assert [op for op in site_ops if op[1] == site] == [("INSERT", site), ("DELETE", site)]
    assert [op for op in site_ops if op[1] == other_site] == [
        ("INSERT", other_site),
        ("UPDATE", other_site),
    ]

    call_update = next(c for c in by_table(changes, "calls") if c.op == "UPDATE")
    assert call_update.old_record is not None and call_update.record is not None
    assert (
        call_update.old_record["status"] == "ringing" and call_update.record["status"] == "answered"
    )
    call_delete = next(c for c in by_table(changes, "calls") if c.op == "DELETE")
    assert call_delete.record is None
    assert call_delete.old_record is not None and call_delete.old_record["status"] == "answered"
    assert set(call_delete.old_record) == {
        "id",
        "site_id",
        "session_id",
        "status",
        "created_at",
        "updated_at",
        "row_version",
    }
    sealed = next(c for c in by_table(changes, "intents") if c.op == "UPDATE")
    assert sealed.record is not None and sealed.record["sealed_at"].endswith("Z")
    assert len({change.event_id for change in changes}) == 16


async def test_two_updates_of_one_row_in_one_transaction_get_distinct_ids(
    ingest: RunningIngest, fresh_db: str, kafka_settings: KafkaSettings
) -> None:
    site, call = str(uuid.uuid4()), str(uuid.uuid4())
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("INSERT INTO sites (id, name) VALUES (%s, 'a')", (site,))
        conn.execute("INSERT INTO calls (id, site_id) VALUES (%s, %s)", (call, site))
        with conn.transaction():
            conn.execute("UPDATE calls SET status = 'answered' WHERE id = %s", (call,))
            conn.execute("UPDATE calls SET status = 'ended' WHERE id = %s", (call,))
    assert kafka_settings.bootstrap_servers
    changes = await read_changes(
        kafka_settings.bootstrap_servers, kafka_settings.changes_topic, min_changes=4
    )
    updates = [c for c in changes if c.op == "UPDATE"]
    assert len(updates) == 2
    assert updates[0].commit_timestamp == updates[1].commit_timestamp
    assert updates[0].event_id != updates[1].event_id
    assert [u.record["status"] for u in updates if u.record] == ["answered", "ended"]


async def test_rows_present_before_the_first_start_arrive_through_the_snapshot(
    fresh_db: str, kafka_settings: KafkaSettings
) -> None:
    site = str(uuid.uuid4())
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("INSERT INTO sites (id, name) VALUES (%s, 'early')", (site,))
        conn.execute(
            "INSERT INTO sessions (site_id) SELECT %s FROM generate_series(1, 300)", (site,)
        )
    running = RunningIngest(fresh_db, kafka_settings)
    await running.started()
    try:
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            conn.execute("INSERT INTO calls (site_id) VALUES (%s)", (site,))
        assert kafka_settings.bootstrap_servers
        changes = await read_changes(
            kafka_settings.bootstrap_servers, kafka_settings.changes_topic, min_changes=302
        )
    finally:
        await running.close()
    assert running.progress.snapshot_rows == 301
    snapshot = [c for c in changes if c.source == "wal_snapshot"]
    assert len(snapshot) == 301 and all(c.op == "INSERT" and c.site_id == site for c in snapshot)
    streamed = [c for c in changes if c.source == "wal"]
    assert [(c.table, c.op) for c in streamed] == [("calls", "INSERT")]


async def test_rows_without_a_site_are_quarantined_with_a_reason(
    ingest: RunningIngest, fresh_db: str, kafka_settings: KafkaSettings
) -> None:
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE calls ALTER COLUMN site_id DROP NOT NULL, DROP CONSTRAINT calls_site_id_fkey"
        )
        conn.execute("INSERT INTO calls (site_id) VALUES (NULL)")
    assert kafka_settings.bootstrap_servers
    rejected = await read_rejected(
        kafka_settings.bootstrap_servers, kafka_settings.rejected_topic, min_records=1
    )
    assert [(r.reason, r.table, r.stage) for r in rejected] == [("no_site", "calls", "ingest")]
    assert ingest.progress.rejected_acked == 1
