"""SIGKILL the ingest in the middle of a 20,000-change write load: nothing committed is lost."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
import uuid
from pathlib import Path

import psycopg

from tests.integration.ingest.wal.processes import ingest_env, log_events, start_ingest
from tests.integration.topic_reading import read_changes
from workers.settings import KafkaSettings

ROWS = 10_000  # each row is inserted, then updated once: 20,000 changes
ROWS_PER_TRANSACTION = 20


class Writer(threading.Thread):
    """Inserts events in small transactions, each also updating rows inserted earlier."""

    def __init__(self, dsn: str, site: str, session: str) -> None:
        super().__init__(daemon=True)
        self.dsn, self.site, self.session = dsn, site, session
        self.committed_changes = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                ids = [str(uuid.uuid4()) for _ in range(ROWS)]
                for start in range(0, ROWS, ROWS_PER_TRANSACTION):
                    chunk = ids[start : start + ROWS_PER_TRANSACTION]
                    earlier = ids[start - ROWS_PER_TRANSACTION : start] if start else []
                    with conn.transaction():
                        conn.cursor().executemany(
                            "INSERT INTO events (id, session_id, site_id, name) VALUES (%s, %s, %s, 'v0')",
                            [(row_id, self.session, self.site) for row_id in chunk],
                        )
                        if earlier:
                            conn.execute(
                                "UPDATE events SET name = 'v1' WHERE id = ANY(%s::uuid[])",
                                (earlier,),
                            )
                    self.committed_changes += len(chunk) + len(earlier)
                conn.execute(
                    "UPDATE events SET name = 'v1' WHERE id = ANY(%s::uuid[])",
                    (ids[-ROWS_PER_TRANSACTION:],),
                )
                self.committed_changes += ROWS_PER_TRANSACTION
        except BaseException as exc:
            self.error = exc


async def test_sigkill_mid_load_loses_no_committed_change(
    fresh_db: str, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    site, session = str(uuid.uuid4()), str(uuid.uuid4())
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("INSERT INTO sites (id, name) VALUES (%s, 'load')", (site,))
        conn.execute("INSERT INTO sessions (id, site_id) VALUES (%s, %s)", (session, site))
    env = ingest_env(fresh_db, kafka_settings)
    first = start_ingest(env, tmp_path / "first.log")
    writer = Writer(fresh_db, site, session)
    writer.start()
    deadline = time.monotonic() + 60
    while writer.committed_changes < 2 * ROWS * 0.4 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert writer.is_alive(), "the load finished before the kill; it must be killed mid-load"
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed_at = writer.committed_changes
    second = start_ingest(env, tmp_path / "second.log")
    try:
        writer.join(120)
        assert writer.error is None, writer.error
        assert not writer.is_alive()
        assert kafka_settings.bootstrap_servers
        changes = await read_changes(
            kafka_settings.bootstrap_servers,
            kafka_settings.changes_topic,
            min_changes=2 + 2 * ROWS,
            quiet_s=3.0,
            timeout_s=120,
        )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    assert "ingest stopped" in log_events(tmp_path / "second.log"), "SIGTERM must drain and exit"
    assert second.returncode == 0

    with psycopg.connect(fresh_db) as conn:
        rows = conn.execute("SELECT id::text, name FROM events").fetchall()
    assert len(rows) == ROWS and all(name == "v1" for _, name in rows)
    expected = {(row_id, "INSERT", "v0") for row_id, _ in rows} | {
        (row_id, "UPDATE", "v1") for row_id, _ in rows
    }
    got = {
        (c.record["id"], c.op, c.record["name"])
        for c in changes
        if c.table == "events" and c.record
    }
    assert got == expected, f"missing {len(expected - got)}, unexpected {len(got - expected)}"
    duplicates = len([c for c in changes if c.table == "events"]) - len(expected)
    print(f"killed after {killed_at} committed changes; {duplicates} re-delivered after restart")
