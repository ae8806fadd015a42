"""The WAL and Realtime sources at once, into one topic, through ``pulse worker``: KPIs = SQL.

Both sources publish every change they see; the Realtime one also re-reads rows after a dropped
socket. The stream worker drops re-deliveries by event ID (a push has the WAL's event ID for the
same change) and keeps entity state, so the KPIs it publishes must equal a recomputation in SQL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from aiokafka.structs import ConsumerRecord

from tests.cli_command import PULSE
from tests.integration.ingest.realtime.conftest import RunningEmulator
from tests.integration.ingest.realtime.harness import (
    Writer,
    fast_options,
    make_sites,
    pushed,
    start_source,
    topic_changes,
)
from tests.integration.topic_reading import read_topic
from workers.changes.values import canonical_timestamp
from workers.ingest.settings import WalIngestSettings
from workers.ingest.wal.runner import IngestProgress, run_wal_ingest
from workers.kpis.sql import recompute_kpis
from workers.settings import KafkaSettings

pytestmark = pytest.mark.integration

KPI_FIELDS = (
    "sessions",
    "events",
    "calls",
    "intents",
    "conversions",
    "conversion_rate",
    "last_event_at",
)


def _start_worker(kafka: KafkaSettings, dsn: str, data_dir: Path) -> subprocess.Popen[bytes]:
    assert kafka.bootstrap_servers
    env = dict(
        os.environ,
        KAFKA_BOOTSTRAP_SERVERS=kafka.bootstrap_servers,
        PULSE_CHANGES_TOPIC=kafka.changes_topic,
        PULSE_UPDATES_TOPIC=kafka.updates_topic,
        PULSE_REJECTED_TOPIC=kafka.rejected_topic,
        PULSE_PARTITIONS=str(kafka.partitions),
        PULSE_APP_ID=f"pulse-both-{uuid.uuid4().hex[:8]}",
        PULSE_DATA_DIR=str(data_dir),
        PULSE_WEB_PORT="0",
        PULSE_WORKER_METRICS_PORT="0",
        PULSE_SESSION_TIMEOUT_S="6",
        PULSE_STANDBY_REPLICAS="0",
        PULSE_LOG_FORMAT="json",
        DATABASE_URL=dsn,
    )
    log = (data_dir.parent / "worker.log").open("wb")
    return subprocess.Popen(
        [*PULSE, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _sql_kpis(dsn: str) -> dict[tuple[str, str], dict[str, Any]]:
    with psycopg.connect(dsn) as conn:
        figures = recompute_kpis(conn)
    return {
        (site, day.isoformat() if isinstance(day, date) else str(day)): _comparable(
            snapshot.model_dump(mode="json")
        )
        for (site, day), snapshot in figures.items()
    }


def _comparable(kpis: dict[str, Any]) -> dict[str, Any]:
    result = {name: kpis.get(name) for name in KPI_FIELDS}
    if result["last_event_at"]:
        result["last_event_at"] = canonical_timestamp(str(result["last_event_at"]))
    return result


def _stream_kpis(updates: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for update in updates:
        if update.get("type") != "kpi_updated":
            continue
        key = (update["site_id"], update["kpis"]["day"])
        if key not in newest or update["seq"] > newest[key]["seq"]:
            newest[key] = update
    return {key: _comparable(update["kpis"]) for key, update in newest.items()}


async def _updates(kafka: KafkaSettings) -> list[dict[str, Any]]:
    assert kafka.bootstrap_servers

    def decode(record: ConsumerRecord[bytes, bytes]) -> list[dict[str, Any]]:
        return [orjson.loads(record.value)]

    return await read_topic(
        kafka.bootstrap_servers, kafka.updates_topic, decode, quiet_s=0.5, timeout_s=30
    )


async def test_wal_and_realtime_together_give_kpis_equal_to_sql(
    emulator: RunningEmulator, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    sites = await make_sites(emulator.dsn, 3)
    wal_stop = asyncio.Event()
    wal_progress = IngestProgress()
    wal_options = WalIngestSettings(PULSE_SLOT_NAME="pulse_both_wal")
    wal = asyncio.create_task(
        run_wal_ingest(emulator.dsn, kafka_settings, wal_options, wal_stop, wal_progress)
    )
    realtime = start_source(emulator.url, emulator.service_key, kafka_settings, fast_options())
    worker = _start_worker(kafka_settings, emulator.dsn, tmp_path / "worker")
    try:
        await asyncio.wait_for(wal_progress.streaming.wait(), timeout=30)
        await realtime.live()
        writer = Writer(emulator.dsn, sites)
        writer.start()
        await asyncio.sleep(1.5)
        await emulator.control.delay_subscribe(800)
        await emulator.control.drop_socket(1006)
        await asyncio.sleep(2.0)
        await writer.stop()
        await realtime.catchups_after_now(2)
        expected = _sql_kpis(emulator.dsn)
        assert {site for site, _ in expected} == set(sites) and all(
            v["events"] for v in expected.values()
        )
        deadline = time.monotonic() + 120
        got: dict[tuple[str, str], dict[str, Any]] = {}
        while time.monotonic() < deadline:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            got = _stream_kpis(await _updates(kafka_settings))
            if got == expected:
                break
            await asyncio.sleep(2)
        assert got == expected, f"stream {got} != sql {expected}"
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        await realtime.close()
        wal_stop.set()
        await asyncio.wait_for(wal, timeout=30)
    changes = await topic_changes(kafka_settings)
    wal_ids = {c.event_id for c in changes if c.source == "wal"}
    push_ids = {c.event_id for c in pushed(changes)}
    assert push_ids and push_ids <= wal_ids, (
        "every Realtime push must carry its WAL change's event ID"
    )
    assert any(c.source == "realtime_catchup" for c in changes)
