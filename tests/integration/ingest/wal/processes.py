"""Running ``pulse ingest`` as a child process, so that tests can SIGKILL it."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from tests.cli_command import PULSE
from workers.settings import KafkaSettings


def ingest_env(dsn: str, kafka: KafkaSettings, **extra: str) -> dict[str, str]:
    assert kafka.bootstrap_servers
    return {
        **os.environ,
        "DATABASE_URL": dsn,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "PULSE_CHANGES_TOPIC": kafka.changes_topic,
        "PULSE_UPDATES_TOPIC": kafka.updates_topic,
        "PULSE_REJECTED_TOPIC": kafka.rejected_topic,
        "PULSE_PARTITIONS": str(kafka.partitions),
        "PULSE_LOG_FORMAT": "json",
        "PULSE_HEARTBEAT_INTERVAL_S": "1",
        "PULSE_INGEST_METRICS_PORT": "0",
        **extra,
    }


def log_events(logfile: Path) -> list[str]:
    events = []
    for line in logfile.read_text().splitlines():
        try:
            events.append(str(json.loads(line).get("event")))
        except ValueError:
            continue
    return events


def start_ingest(env: dict[str, str], logfile: Path) -> subprocess.Popen[bytes]:
    """Start ``pulse ingest --source wal`` logging to a new file; return once it streams."""
    with logfile.open("wb") as log:
        process = subprocess.Popen(
            [*PULSE, "ingest", "--source", "wal"], env=env, stdout=log, stderr=log
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"ingest exited early:\n{logfile.read_text()}")
        if "streaming" in log_events(logfile):
            return process
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"ingest did not start streaming:\n{logfile.read_text()}")
