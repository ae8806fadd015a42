"""The audit's comparison on real Postgres and a real broker, with ``kpi_updated`` and intent
updates produced directly (the whole-pipeline audit lives in test_pipeline_audit.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaProducer
from psycopg.rows import dict_row

from schemas.updates import DashboardUpdate, IntentCreated, IntentView, KpiUpdated
from tests.integration.tools.conftest import send_updates
from workers.changes.values import canonical_row
from workers.cli.main import main
from workers.ingest.wal.snapshot import column_types
from workers.kpis.sql import recompute_kpis
from workers.services.database import create_database, drop_database
from workers.settings import KafkaSettings
from workers.tools.audit import MISSING, audit
from workers.tools.errors import UnknownSite
from workers.tools.reading import TopicReader

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

DAY = date(2026, 11, 23)
AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def seed_site(conn: psycopg.Connection[Any], sessions: int, events: int, intents: int) -> str:
    site = str(uuid.uuid4())
    conn.execute("INSERT INTO sites (id, name) VALUES (%s, %s)", (site, "shop"))
    session_ids = []
    for _ in range(sessions):
        row = conn.execute(
            "INSERT INTO sessions (site_id, started_at) VALUES (%s, %s) RETURNING id", (site, AT)
        ).fetchone()
        assert row is not None
        session_ids.append(row[0])
    for n in range(events):
        conn.execute(
            "INSERT INTO events (session_id, site_id, name, created_at) VALUES (%s, %s, %s, %s)",
            (session_ids[n % sessions], site, "view", AT),
        )
    for n in range(intents):
        conn.execute(
            "INSERT INTO intents (site_id, created_at, sealed_at) VALUES (%s, %s, %s)",
            (site, AT, AT if n % 2 == 0 else None),
        )
    return site


def published_from_sql(conn: psycopg.Connection[Any], seq: int) -> list[DashboardUpdate]:
    """What a worker in step with the database has published: KPIs and every intent's row."""
    updates: list[DashboardUpdate] = [
        KpiUpdated(site_id=site, seq=seq, emitted_at=AT, kpis=kpis)
        for (site, _day), kpis in recompute_kpis(conn).items()
    ]
    types = column_types(conn, "intents")
    with conn.cursor(row_factory=dict_row) as cursor:
        for row in cursor.execute("SELECT * FROM intents").fetchall():
            intent = IntentView.model_validate(canonical_row(row, types))
            updates.append(
                IntentCreated(site_id=str(row["site_id"]), seq=seq, emitted_at=AT, intent=intent)
            )
    return updates


async def test_audit_passes_when_kafka_agrees_and_names_what_differs(
    fresh_db: str, topics: KafkaSettings, producer: AIOKafkaProducer
) -> None:
    topic = topics.updates_topic
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        site_a = seed_site(conn, sessions=2, events=5, intents=4)
        site_b = seed_site(conn, sessions=1, events=1, intents=0)
        stale = published_from_sql(conn, seq=1)
        conn.execute(
            "INSERT INTO events (session_id, site_id, name, created_at) "
            "SELECT id, site_id, 'late', %s FROM sessions WHERE site_id = %s LIMIT 1",
            (AT, site_a),
        )
        # An older snapshot first, then the current one: the audit must take the latest by seq.
        await send_updates(producer, topic, stale + published_from_sql(conn, seq=2))

        async with TopicReader(str(topics.bootstrap_servers), topic) as reader:
            report, invalid = await audit(conn, reader)
            assert (report.compared, report.differences, invalid) == (2, [], 0)
            assert (report.rows_compared, report.row_differences) == (4, [])

            # Behind the pipeline's back: site A gains an event, nothing publishes it.
            conn.execute(
                "UPDATE events SET created_at = %s WHERE site_id = %s AND name = 'late'",
                (datetime(2026, 11, 23, 11, 0, tzinfo=UTC), site_a),
            )
            conn.execute(
                "INSERT INTO events (session_id, site_id, name, created_at) "
                "SELECT id, site_id, 'sneaky', %s FROM sessions WHERE site_id = %s "
                "LIMIT 1",
                (AT, site_a),
            )
            report, _ = await audit(conn, reader)
            assert {(d.site_id, d.kpi) for d in report.differences} == {
                (site_a, "events"),
                (site_a, "last_event_at"),
            }
            events = next(d for d in report.differences if d.kpi == "events")
            assert (events.expected, events.actual) == (7, 6)

            only_b, _ = await audit(conn, reader, site_id=site_b, day=DAY)
            assert (only_b.compared, only_b.differences) == (1, [])

            # An intent's status changes and nothing publishes it: no KPI moves, the ledger differs.
            intent = conn.execute(
                "UPDATE intents SET status = 'qualified' WHERE id = (SELECT id FROM intents "
                "WHERE site_id = %s ORDER BY id LIMIT 1) RETURNING id::text",
                (site_a,),
            ).fetchone()
            assert intent is not None
            report, _ = await audit(conn, reader)
            assert {(d.site_id, d.table, d.row_id) for d in report.row_differences} == {
                (site_a, "intents", intent[0])
            }
            status = next(d for d in report.row_differences if d.field == "status")
            assert (status.expected, status.actual) == ("qualified", "open")
            assert {d.field for d in report.row_differences} == {
                "status",
                "updated_at",
                "row_version",
            }

            site_c = seed_site(conn, sessions=1, events=0, intents=0)
            report, _ = await audit(conn, reader, site_id=site_c)
            assert [(d.site_id, d.kpi) for d in report.differences] == [(site_c, MISSING)]

            with pytest.raises(UnknownSite, match="not in the sites table"):
                await audit(conn, reader, site_id=str(uuid.uuid4()))


def test_audit_command_prints_the_table_and_exits_1(
    fresh_db: str,
    kafka_settings: KafkaSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import asyncio

    from workers.kafka.topics import ensure_project_topics

    bootstrap = str(kafka_settings.bootstrap_servers)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        site = seed_site(conn, sessions=1, events=2, intents=2)
        updates = published_from_sql(conn, seq=0)

    async def produce() -> None:
        await ensure_project_topics(bootstrap, kafka_settings)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            await send_updates(producer, kafka_settings.updates_topic, updates)
        finally:
            await producer.stop()

    asyncio.run(produce())
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
    monkeypatch.setenv("PULSE_UPDATES_TOPIC", kafka_settings.updates_topic)
    monkeypatch.setenv("DATABASE_URL", fresh_db)
    assert main(["audit"]) == 0
    assert "audit passed: 1 site-day(s) and 2 call/intent row(s) agree" in capsys.readouterr().out

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("UPDATE intents SET sealed_at = NULL WHERE site_id = %s", (site,))
    assert main(["audit", "--site", site, "--day", "2026-11-23"]) == 1
    out = capsys.readouterr().out
    assert site in out and "conversions" in out and "conversion_rate" in out
    # Both intents were rewritten (updated_at, row_version), one of them also lost its sealed_at.
    assert "sealed_at" in out
    assert "audit failed: 2 KPI difference(s) and 5 row difference(s) in 1 site(s)" in out

    assert main(["audit", "--site", "not-a-site"]) == 2
    assert "unknown site 'not-a-site'" in capsys.readouterr().err
    # tail and replay check a site against the sites table too when DATABASE_URL is set.
    monkeypatch.setenv("PULSE_CHANGES_TOPIC", kafka_settings.changes_topic)
    for command in (["tail"], ["replay", "--topic", "supabase_changes", "--from", "beginning"]):
        assert main([*command, "--site", "not-a-site"]) == 2
        assert "unknown site 'not-a-site': it is not in the sites table" in capsys.readouterr().err
    assert main(["tail", "--site", site, "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(updates) and all(site in line for line in lines)


def test_an_error_in_the_audits_query_is_one_line_and_status_2(
    pg_admin_dsn: str,
    kafka_settings: KafkaSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A database without the project's tables: the KPI query itself fails.
    name = f"t_{uuid.uuid4().hex[:12]}"
    dsn = create_database(pg_admin_dsn, name, with_schema=False)
    try:
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", str(kafka_settings.bootstrap_servers))
        monkeypatch.setenv("DATABASE_URL", dsn)
        assert main(["audit"]) == 2
        err = capsys.readouterr().err
        assert err.splitlines() == ['error: Postgres: relation "sessions" does not exist']
    finally:
        drop_database(pg_admin_dsn, name)
