"""Timestamps Python cannot hold (``infinity``, year 10000, BC): the stream quarantines the rows,
the audit's SQL leaves the same rows out and counts them, and the audit passes.

The property test puts each generated timestamp through a real Postgres: its text (what pgoutput
sends from a UTC session) and its JSON (what the snapshot and Realtime send) go through the
ingest's conversion and the stream's KPI code, and the audit's SQL judges the stored value.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.stream.harness import TopicReader, WorkerProcess, start_worker
from workers.changes.values import canonical_value
from workers.cli.main import main
from workers.ingest.settings import WalIngestSettings
from workers.ingest.wal.runner import IngestProgress, run_wal_ingest
from workers.kpis.sql import holdable, quarantined_rows, recompute_kpis
from workers.settings import KafkaSettings
from workers.stream.rules.kpis import BadTimestamp, contribution
from workers.tools.reading import TopicReader as ToolReader
from workers.tools.rebuild import wait_for_groups

pytestmark = [pytest.mark.integration]

EDGES = (
    "infinity",
    "-infinity",
    "9999-12-31 23:59:59.999999+00",
    "10000-01-01 00:00:00+00",
    "9999-12-31 23:30:00-01",
    "0001-01-01 00:00:00+00",
    "0001-01-01 00:30:00+01",
    "0001-12-31 23:59:59.999999+00 BC",
    "4713-01-01 00:00:00+00 BC",
    "294276-12-31 23:59:59.999999+00",
)


@st.composite
def timestamp_literals(draw: st.DrawFn) -> str:
    """A timestamptz literal anywhere in Postgres' range, often near Python's edges."""
    bc = draw(st.booleans())
    near_edge = st.sampled_from([1, 2, 9998, 9999, 10000, 10001])
    year = draw(st.integers(1, 4712) if bc else st.one_of(near_edge, st.integers(1, 294275)))
    month, day = draw(st.integers(1, 12)), draw(st.integers(1, 28))
    clock = (draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59)))
    micros = draw(st.integers(0, 999_999))
    offset = draw(st.integers(-12, 14))
    return (
        f"{year:04d}-{month:02d}-{day:02d} {clock[0]:02d}:{clock[1]:02d}:{clock[2]:02d}"
        f".{micros:06d}{offset:+03d}{' BC' if bc else ''}"
    )


def stream_quarantines(value: Any) -> bool:
    """Whether the stream refuses a row with this value in a KPI timestamp, as it arrives from
    the ingest (converted by ``canonical_value``)."""
    try:
        contribution("calls", {"created_at": canonical_value("timestamptz", value)})
    except BadTimestamp:
        return True
    return False


@pytest.fixture
def utc_conn(fresh_db: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        yield conn


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(literal=st.one_of(st.sampled_from(EDGES), timestamp_literals()))
def test_the_audit_leaves_out_exactly_what_the_stream_quarantines(
    utc_conn: psycopg.Connection[Any], literal: str
) -> None:
    row = utc_conn.execute(
        f"SELECT t::text, to_jsonb(t)::text, {holdable('t')} "
        "FROM (SELECT %s::timestamptz AS t) AS one",
        (literal,),
    ).fetchone()
    assert row is not None
    text, json_text, kept = row
    assert stream_quarantines(text) is (not kept), text
    assert stream_quarantines(orjson.loads(json_text)) is (not kept), json_text

    # The audit's queries over rows holding the value: no error, each row either counted or
    # left out and counted as quarantined.
    site = str(uuid.uuid4())
    now = datetime.now(UTC)
    utc_conn.execute("INSERT INTO sites (id, name) VALUES (%s, 'odd')", (site,))
    session = utc_conn.execute(
        "INSERT INTO sessions (site_id, started_at) VALUES (%s, %s) RETURNING id", (site, now)
    ).fetchone()
    assert session is not None
    values = {"s": site, "t": literal, "session": session[0], "now": now}
    for statement in (
        "INSERT INTO sessions (site_id, started_at) VALUES (%(s)s, %(t)s)",
        "INSERT INTO events (session_id, site_id, name, created_at) "
        "VALUES (%(session)s, %(s)s, 'view', %(t)s)",
        "INSERT INTO calls (site_id, created_at) VALUES (%(s)s, %(t)s)",
        "INSERT INTO intents (site_id, created_at, sealed_at) VALUES (%(s)s, %(now)s, %(t)s)",
    ):
        utc_conn.execute(statement, values)
    kpis = recompute_kpis(utc_conn, site)
    counted = {
        kind: sum(getattr(snapshot, kind) for snapshot in kpis.values())
        for kind in ("sessions", "events", "calls", "intents", "conversions")
    }
    left_out = quarantined_rows(utc_conn, site)
    if kept:
        assert counted == dict.fromkeys(counted, 1) | {"sessions": 2}
        assert left_out == {}
    else:
        assert counted == {"sessions": 1, "events": 0, "calls": 0, "intents": 0, "conversions": 0}
        assert left_out == {"sessions": 1, "events": 1, "calls": 1, "intents": 1}


# Rows written while the pipeline runs: (table, columns, values) with {site}, {session} and
# {now} filled in. The first five the stream must quarantine; the rest are at the edges of
# Python's range and count.
ODD_ROWS = (
    ("sessions", "site_id, started_at", "'{site}', 'infinity'"),
    (
        "events",
        "session_id, site_id, name, created_at",
        "'{session}', '{site}', 'v', '10000-01-01+00'",
    ),
    ("calls", "site_id, created_at", "'{site}', '0044-03-15 12:00:00+00 BC'"),
    ("intents", "site_id, created_at, sealed_at", "'{site}', '{now}', 'infinity'"),
    ("intents", "site_id, created_at", "'{site}', '-infinity'"),
    ("sessions", "site_id, started_at", "'{site}', '9999-12-31 23:59:59.999999+00'"),
    ("calls", "site_id, created_at", "'{site}', '0001-01-01 00:00:00+00'"),
    (
        "events",
        "session_id, site_id, name, created_at",
        "'{session}', '{site}', 'v', '0001-01-01 00:00:00.000001+00'",
    ),
)
QUARANTINED = {"sessions": 1, "events": 1, "calls": 1, "intents": 2}


async def test_the_audit_passes_on_a_pipeline_fed_odd_timestamps(
    fresh_db: str,
    kafka_settings: KafkaSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from workers.kafka.topics import ensure_project_topics

    topics = kafka_settings
    bootstrap = str(topics.bootstrap_servers)
    await ensure_project_topics(bootstrap, topics)
    app_id = f"pulse-odd-{uuid.uuid4().hex[:8]}"
    stop = asyncio.Event()
    progress = IngestProgress()
    ingest = asyncio.create_task(
        run_wal_ingest(
            fresh_db, topics, WalIngestSettings(PULSE_HEARTBEAT_INTERVAL_S=1.0), stop, progress
        )
    )
    worker: WorkerProcess | None = None
    rejected = TopicReader(bootstrap, topics.rejected_topic)
    try:
        await asyncio.wait_for(progress.streaming.wait(), 60)
        worker = start_worker(
            topics, app_id=app_id, data_dir=tmp_path / "worker", database_url=fresh_db
        )
        written = 0
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            for _ in range(2):
                site = str(uuid.uuid4())
                conn.execute("INSERT INTO sites (id, name) VALUES (%s, 'odd')", (site,))
                row = conn.execute(
                    "INSERT INTO sessions (site_id) VALUES (%s) RETURNING id", (site,)
                ).fetchone()
                assert row is not None
                conn.execute(
                    "INSERT INTO events (session_id, site_id, name) VALUES (%s, %s, 'v')",
                    (row[0], site),
                )
                written += 3
                fill = {"site": site, "session": row[0], "now": datetime.now(UTC).isoformat()}
                for table, columns, values in ODD_ROWS:
                    conn.execute(
                        f"INSERT INTO {table} ({columns}) VALUES ({values.format(**fill)})"
                    )
                    written += 1
        deadline = time.monotonic() + 60
        while progress.changes_acked < written:
            assert time.monotonic() < deadline, f"ingest acked {progress.changes_acked}"
            await asyncio.sleep(0.2)
        async with ToolReader(bootstrap, topics.changes_topic) as changes:
            await wait_for_groups(
                changes,
                bootstrap,
                {app_id: None},
                list(range(topics.partitions)),
                time.monotonic() + 120,
            )
        await rejected.start()
        await rejected.wait_for(lambda values: len(values) >= 10, quiet_s=1.0, timeout_s=30)
        malformed = [r for r in rejected.values if r["reason"] == "malformed"]
        assert len(malformed) == 2 * sum(QUARANTINED.values()), rejected.values

        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
        monkeypatch.setenv("PULSE_UPDATES_TOPIC", topics.updates_topic)
        monkeypatch.setenv("DATABASE_URL", fresh_db)
        capsys.readouterr()
        status = await asyncio.to_thread(main, ["audit"])
        out = capsys.readouterr().out
        assert status == 0, out
        assert "10 row(s) quarantined in the stream" in out
        assert "calls 2, events 2, intents 4, sessions 2" in out
        assert "audit passed" in out
    finally:
        await rejected.stop()
        if worker is not None:
            worker.stop()
        stop.set()
        await asyncio.wait_for(ingest, 30)
