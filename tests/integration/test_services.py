"""The throwaway services start, answer, and the schema applies."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas.changes import TRACKED_TABLES
from tests.process_checks import gone, wait_gone
from workers.ingest.wal.replication import ReplicationStream
from workers.kafka.topics import ensure_topics
from workers.services.database import create_database, drop_database
from workers.settings import KafkaSettings


def test_schema_applied_with_logical_wal(fresh_db: str) -> None:
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SHOW wal_level").fetchone() == ("logical",)
        published = {
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_publication_tables WHERE pubname = 'supabase_realtime'"
            )
        }
        assert published == set(TRACKED_TABLES)
        identities = dict(
            conn.execute(
                "SELECT relname, relreplident FROM pg_class WHERE relname = ANY(%s)",
                (list(TRACKED_TABLES),),
            ).fetchall()
        )
        assert set(identities.values()) == {"f"}


async def test_broker_round_trip(kafka_settings: KafkaSettings) -> None:
    bootstrap = kafka_settings.bootstrap_servers
    assert bootstrap is not None
    topic = kafka_settings.changes_topic
    await ensure_topics(bootstrap, [topic], partitions=2)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for i in range(10):
            await producer.send_and_wait(topic, f"v{i}".encode(), key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        seen: list[bytes] = []
        while len(seen) < 10:
            batch = await consumer.getmany(timeout_ms=5000)
            assert batch, "no records within 5 s"
            for records in batch.values():
                seen.extend(r.value for r in records)
    finally:
        await consumer.stop()
    assert seen == [f"v{i}".encode() for i in range(10)]


def test_a_database_with_a_streaming_slot_is_dropped(pg_admin_dsn: str) -> None:
    name = f"t_{uuid.uuid4().hex[:12]}"
    dsn = create_database(pg_admin_dsn, name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE PUBLICATION drop_test FOR ALL TABLES")
    stream = ReplicationStream(dsn)
    try:
        stream.create_slot_with_snapshot("drop_test")
        stream.start("drop_test", "drop_test")
        with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
            active = admin.execute(
                "SELECT active FROM pg_replication_slots WHERE database = %s", (name,)
            ).fetchone()
            assert active == (True,)
            drop_database(pg_admin_dsn, name)
            left = admin.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,))
            assert left.fetchone() == (0,)
            slots = admin.execute(
                "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'drop_test'"
            )
            assert slots.fetchone() == (0,)
    finally:
        stream.close()


def test_a_killed_parents_broker_and_postgres_are_stopped(tmp_path: Path) -> None:
    parent_code = textwrap.dedent(
        """
        import time
        from workers.services.broker import start_broker
        from workers.services.postgres import start_postgres
        broker, cluster = start_broker(say=lambda line: None), start_postgres()
        print(broker.pid, cluster.postmaster_pid, cluster.datadir, flush=True)
        time.sleep(300)
        """
    )
    out = tmp_path / "parent.out"
    with out.open("wb") as stdout:
        parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=stdout)
    deadline = time.monotonic() + 60
    while not out.read_text().strip() and time.monotonic() < deadline:
        assert parent.poll() is None, "the parent failed to start its services"
        time.sleep(0.1)
    broker_text, postmaster_text, datadir = out.read_text().split()
    broker, postmaster = int(broker_text), int(postmaster_text)
    try:
        assert not gone(broker) and not gone(postmaster)
        parent.kill()
        parent.wait()
        assert wait_gone(broker, 15), "the broker outlived its killed parent"
        assert wait_gone(postmaster, 15), "PostgreSQL outlived its killed parent"
        deadline = time.monotonic() + 10
        while Path(datadir).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not Path(datadir).exists(), "the killed parent's PostgreSQL files were left"
    finally:
        for pid in (broker, postmaster):
            if not gone(pid):
                os.killpg(pid, signal.SIGKILL)
        shutil.rmtree(Path(datadir).parent, ignore_errors=True)
