"""``pulse emulator`` and ``pulse ingest --source realtime`` as processes, the way an operator runs them."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import psycopg
import pytest

from tests.cli_command import PULSE
from tests.integration.ingest.realtime.conftest import JWT_SECRET
from tests.integration.ingest.realtime.harness import (
    database_rows,
    missing_final_states,
    topic_changes,
)
from workers.services.ports import free_port
from workers.settings import KafkaSettings

pytestmark = pytest.mark.integration


async def _insert_sessions(dsn: str, site: str, count: int) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        for _ in range(count):
            await conn.execute("INSERT INTO sessions (site_id) VALUES (%s)", (site,))


async def test_ingest_command_streams_and_rebuilds_on_sighup(
    fresh_db: str, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    async with await psycopg.AsyncConnection.connect(fresh_db, autocommit=True) as conn:
        row = await (
            await conn.execute("INSERT INTO sites (name) VALUES ('cli') RETURNING id::text")
        ).fetchone()
        assert row is not None
        site = str(row[0])
    port = free_port()
    base_env = {**os.environ, "DATABASE_URL": fresh_db, "PULSE_LOG_FORMAT": "json"}
    emulator = await asyncio.create_subprocess_exec(
        *PULSE,
        "emulator",
        "--port",
        str(port),
        "--jwt-secret",
        JWT_SECRET,
        env=base_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    log_path = tmp_path / "ingest.log"
    ingest: asyncio.subprocess.Process | None = None
    try:
        assert emulator.stdout is not None
        lines = [
            (await asyncio.wait_for(emulator.stdout.readline(), 30)).decode() for _ in range(2)
        ]
        printed = dict(line.strip().split("=", 1) for line in lines)
        assert kafka_settings.bootstrap_servers
        env = {
            **base_env,
            **printed,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
            "PULSE_CHANGES_TOPIC": kafka_settings.changes_topic,
            "PULSE_UPDATES_TOPIC": kafka_settings.updates_topic,
            "PULSE_REJECTED_TOPIC": kafka_settings.rejected_topic,
            "PULSE_PARTITIONS": str(kafka_settings.partitions),
            "PULSE_INGEST_METRICS_PORT": "0",
            "PULSE_REALTIME_CATCHUP_INTERVAL_S": "1",
        }
        with log_path.open("wb") as log:
            ingest = await asyncio.create_subprocess_exec(
                *PULSE, "ingest", "--source", "realtime", env=env, stdout=log, stderr=log
            )

        def log_text() -> str:
            return log_path.read_text(errors="replace")

        async def wait_for_log(needle: str, count: int = 1) -> None:
            for _ in range(300):
                if log_text().count(needle) >= count:
                    return
                await asyncio.sleep(0.1)
            raise AssertionError(
                f"{needle!r} x{count} not in the ingest log:\n{log_text()[-3000:]}"
            )

        await wait_for_log('"status": "LIVE"')
        await _insert_sessions(fresh_db, site, 5)
        ingest.send_signal(signal.SIGHUP)
        await wait_for_log('"status": "LIVE"', 2)
        await _insert_sessions(fresh_db, site, 5)
        await wait_for_log('"event": "catch-up done"', 3)
        await asyncio.sleep(1.5)
        ingest.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(ingest.wait(), 30) == 0, log_text()[-3000:]
        assert '"reason": "SIGHUP"' in log_text()
    finally:
        if ingest is not None and ingest.returncode is None:
            ingest.kill()
        emulator.send_signal(signal.SIGINT)
        await asyncio.wait_for(emulator.wait(), 20)
    changes = await topic_changes(kafka_settings, min_changes=10)
    assert not missing_final_states(await database_rows(fresh_db), changes)
    assert sum(1 for c in changes if c.table == "sessions" and c.source == "realtime") >= 5
