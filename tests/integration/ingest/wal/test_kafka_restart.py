"""The broker stops for a while and starts again with its data while ``pulse ingest`` streams a
write load: the process stays up, says so on ``/readyz`` and in its log, counts the reconnect,
every change written before, during and after the outage reaches ``supabase_changes``, and every
row without a site reaches the quarantine topic.

The broker is the test's own, so the session's shared broker never stops.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from tests.integration.ingest.wal.processes import ingest_env, log_events, start_ingest
from tests.integration.probing import metric, readyz, wait_until
from tests.integration.topic_reading import read_changes, read_rejected
from workers.kafka.topics import ensure_project_topics
from workers.services.apache_kafka import ApacheKafka
from workers.services.ports import free_port
from workers.settings import KafkaSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]

ROWS_PER_TRANSACTION = 5


def cpu_s(pid: int) -> float:
    """CPU time (user and system) the process used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Writer(threading.Thread):
    """Inserts events in small transactions, named after the phase they were written in, and
    in each a call without a site (kept in ``unsited``), which the ingest must quarantine."""

    def __init__(self, dsn: str, site: str, session: str) -> None:
        super().__init__(daemon=True)
        self.dsn, self.site, self.session = dsn, site, session
        self.phase = "before"
        self.written: dict[str, int] = defaultdict(int)
        self.unsited: list[str] = []
        self.done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                while not self.done.is_set():
                    phase = self.phase
                    call = str(uuid.uuid4())
                    with conn.transaction():
                        conn.cursor().executemany(
                            "INSERT INTO events (id, session_id, site_id, name) "
                            "VALUES (%s, %s, %s, %s)",
                            [
                                (str(uuid.uuid4()), self.session, self.site, phase)
                                for _ in range(ROWS_PER_TRANSACTION)
                            ],
                        )
                        conn.execute("INSERT INTO calls (id, site_id) VALUES (%s, NULL)", (call,))
                    self.written[phase] += ROWS_PER_TRANSACTION
                    self.unsited.append(call)
                    time.sleep(0.02)
        except BaseException as exc:
            self.error = exc


# The broker's controlled shutdown leaves its partitions without a leader until it is back, and
# a send waits for a leader at most SEND_TIMEOUT_S. The short outage, the broker's start
# included, stays within that: the sends wait and go through. The long one outlasts it: they fail,
# the session is dropped and streaming resumes from the slot's confirmed position.
SEND_TIMEOUT_S = 10.0


@pytest.mark.parametrize("down_s", [3.0, 16.0], ids=["sends_wait", "sends_time_out"])
async def test_a_broker_restart_leaves_the_ingest_running_and_loses_no_change(
    fresh_db: str,
    own_broker: ApacheKafka,
    kafka_settings: KafkaSettings,
    tmp_path: Path,
    down_s: float,
) -> None:
    topics = kafka_settings.model_copy(update={"bootstrap_servers": own_broker.bootstrap_servers})
    await ensure_project_topics(own_broker.bootstrap_servers, topics)
    site, session = str(uuid.uuid4()), str(uuid.uuid4())
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("INSERT INTO sites (id, name) VALUES (%s, 'outage')", (site,))
        conn.execute("INSERT INTO sessions (id, site_id) VALUES (%s, %s)", (session, site))
        conn.execute(
            "ALTER TABLE calls ALTER COLUMN site_id DROP NOT NULL, DROP CONSTRAINT calls_site_id_fkey"
        )
    port = free_port()
    env = ingest_env(
        fresh_db,
        topics,
        PULSE_INGEST_METRICS_PORT=str(port),
        PULSE_RECONNECT_INITIAL_S="0.2",
        PULSE_RECONNECT_MAX_S="2",
        PULSE_INGEST_SEND_TIMEOUT_S=str(SEND_TIMEOUT_S),
    )
    logfile = tmp_path / "ingest.log"
    ingest = start_ingest(env, logfile)
    writer = Writer(fresh_db, site, session)
    kafka = {"component": "ingest", "dependency": "kafka"}

    async def until(condition: Callable[[], bool], what: str, timeout_s: float = 90) -> None:
        await wait_until(condition, what, ingest, logfile.read_text, timeout_s)

    try:
        await until(lambda: readyz(port)[0] == 200, "the ingest to be ready")
        writer.start()
        await asyncio.sleep(3.0)

        cpu_before = cpu_s(ingest.pid)
        await asyncio.to_thread(own_broker.shutdown)
        writer.phase = "during"
        down_at = time.monotonic()
        await until(
            lambda: readyz(port)[1].get("reconnecting_to") == ["kafka"],
            "/readyz to name kafka",
            timeout_s=down_s,
        )
        noticed_s = time.monotonic() - down_at
        assert readyz(port)[0] == 503
        assert metric(port, "pulse_dependency_up", **kafka) == 0
        await asyncio.sleep(max(0.0, down_s - (time.monotonic() - down_at)))
        assert ingest.poll() is None, f"the ingest exited:\n{logfile.read_text()}"

        await asyncio.to_thread(own_broker.launch)
        writer.phase = "after"
        back_at = time.monotonic()
        await until(lambda: readyz(port)[0] == 200, "the ingest to be ready again")
        ready_again_s = time.monotonic() - back_at
        outage_cpu_s = cpu_s(ingest.pid) - cpu_before
        outage_s = time.monotonic() - down_at
        await asyncio.sleep(3.0)
        writer.done.set()
        await asyncio.to_thread(writer.join, 30)
        assert writer.error is None, writer.error
        assert all(writer.written[phase] for phase in ("before", "during", "after")), writer.written

        with psycopg.connect(fresh_db) as conn:
            rows = {row[0] for row in conn.execute("SELECT id::text FROM events").fetchall()}
        changes = await read_changes(
            own_broker.bootstrap_servers,
            topics.changes_topic,
            min_changes=len(rows),
            quiet_s=3.0,
            timeout_s=120,
        )
        inserts = [c for c in changes if c.table == "events" and c.op == "INSERT"]
        assert {c.record["id"] for c in inserts if c.record} == rows
        # A change sent twice (it was in flight when the broker went) keeps its event ID.
        ids_per_row: dict[str, set[str]] = defaultdict(set)
        for change in inserts:
            assert change.record
            ids_per_row[change.record["id"]].add(change.event_id)
        assert all(len(ids) == 1 for ids in ids_per_row.values())
        rejects = await read_rejected(
            own_broker.bootstrap_servers,
            topics.rejected_topic,
            min_records=len(writer.unsited),
            quiet_s=3.0,
            timeout_s=120,
        )
        quarantined = {r.payload["record"]["id"] for r in rejects if r.reason == "no_site"}
        assert set(writer.unsited) <= quarantined

        assert ingest.poll() is None, f"the ingest exited:\n{logfile.read_text()}"
        assert metric(port, "pulse_reconnects_total", **kafka) == 1
        assert metric(port, "pulse_dependency_up", **kafka) == 1
        events = log_events(logfile)
        assert events.count("kafka lost; reconnecting") == 1
        assert events.count("kafka reconnected") == 1
        sends_failed = events.count("kafka sends failed; resuming from the slot")
        assert sends_failed == (1 if down_s > SEND_TIMEOUT_S else 0), logfile.read_text()
        print(
            f"written {dict(writer.written)}; {len(inserts) - len(rows)} re-delivered; "
            f"{len(writer.unsited)} quarantined, {len(rejects) - len(writer.unsited)} twice; "
            f"away noticed after {noticed_s:.1f} s, ready {ready_again_s:.1f} s after the start; "
            f"ingest CPU {outage_cpu_s:.1f} s in {outage_s:.1f} s of outage; "
            f"{len(events)} log lines"
        )
    finally:
        writer.done.set()
        if ingest.poll() is None:
            ingest.send_signal(signal.SIGTERM)
            ingest.wait(60)
    assert ingest.returncode == 0, logfile.read_text()
