"""The whole pipeline for the browser tests: WAL ingest (in the test's loop), a stream worker and
the gateway (child processes, so the gateway can be stopped and started again)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from tests.unit.gateway.tokens import SECRET
from workers.services import lifeline
from workers.services.processes import terminate
from workers.settings import KafkaSettings

REPO = Path(__file__).resolve().parents[3]


def pulse_env(kafka: KafkaSettings, dsn: str, **extra: str) -> dict[str, str]:
    assert kafka.bootstrap_servers
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "PULSE_CHANGES_TOPIC": kafka.changes_topic,
        "PULSE_UPDATES_TOPIC": kafka.updates_topic,
        "PULSE_REJECTED_TOPIC": kafka.rejected_topic,
        "PULSE_PARTITIONS": str(kafka.partitions),
        "DATABASE_URL": dsn,
        "PULSE_LOG_FORMAT": "json",
        **extra,
    }


@dataclass
class Child:
    process: subprocess.Popen[bytes]
    logfile: Path

    def stop(self) -> None:
        terminate(self.process)
        lifeline.forget(self.process.pid)

    def log(self) -> str:
        return self.logfile.read_text(errors="replace")


def spawn(name: str, argv: list[str], env: dict[str, str], logdir: Path) -> Child:
    logfile = logdir / f"{name}-{uuid.uuid4().hex[:6]}.log"
    with logfile.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "workers.cli.main", *argv],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    lifeline.watch(process.pid)
    return Child(process, logfile)


def start_worker(kafka: KafkaSettings, dsn: str, logdir: Path) -> Child:
    env = pulse_env(
        kafka,
        dsn,
        PULSE_APP_ID=f"pulse-gw-{uuid.uuid4().hex[:8]}",
        PULSE_DATA_DIR=str(logdir / f"worker-{uuid.uuid4().hex[:6]}"),
        PULSE_WEB_PORT="0",
        PULSE_SESSION_TIMEOUT_S="6",
        PULSE_STANDBY_REPLICAS="0",
        PULSE_FRESHNESS_INTERVAL_S="0.5",
        PULSE_CHART_INTERVAL_S="2",
    )
    return spawn("worker", ["worker"], env, logdir)


def start_gateway(kafka: KafkaSettings, dsn: str, logdir: Path, port: int, **extra: str) -> Child:
    env = pulse_env(
        kafka,
        dsn,
        SUPABASE_JWT_SECRET=SECRET,
        PULSE_GATEWAY_PORT=str(port),
        PULSE_GATEWAY_AUTH_SWEEP_S="0.5",
        **extra,
    )
    child = spawn("gateway", ["gateway"], env, logdir)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            raise AssertionError(f"the gateway exited:\n{child.log()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return child
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    child.stop()
    raise AssertionError(f"the gateway was not ready within 60 s:\n{child.log()}")


def add_site(dsn: str, members: list[str]) -> str:
    site_id = str(uuid.uuid4())
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO sites (id, name) VALUES (%s, 'browser test')", (site_id,))
        for user_id in members:
            conn.execute(
                "INSERT INTO site_members (user_id, site_id) VALUES (%s, %s)", (user_id, site_id)
            )
    return site_id


def add_activity(dsn: str, site_id: str, events: int) -> None:
    """One session with ``events`` events, an intent and a call, committed now."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        session = conn.execute(
            "INSERT INTO sessions (site_id) VALUES (%s) RETURNING id", (site_id,)
        ).fetchone()
        assert session is not None
        for i in range(events):
            conn.execute(
                "INSERT INTO events (session_id, site_id, name) VALUES (%s, %s, %s)",
                (session[0], site_id, f"click-{i}"),
            )
        call = conn.execute(
            "INSERT INTO calls (site_id, session_id) VALUES (%s, %s) RETURNING id",
            (site_id, session[0]),
        ).fetchone()
        assert call is not None
        conn.execute(
            "INSERT INTO intents (site_id, session_id, call_id) VALUES (%s, %s, %s)",
            (site_id, session[0], call[0]),
        )
