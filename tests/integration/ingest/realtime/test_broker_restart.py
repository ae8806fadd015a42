"""The broker stops for a while and starts again with its data while the Realtime source takes
pushes: the source keeps running, reports Kafka away meanwhile, the topic ends holding every
row's state, every push it had to refuse is quarantined, and the source's current status is
published again.

The broker is the test's own, so the session's shared broker never stops.
"""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest
from prometheus_client import REGISTRY

from tests.integration.ingest.realtime.conftest import RunningEmulator
from tests.integration.ingest.realtime.harness import (
    Writer,
    database_rows,
    fast_options,
    make_sites,
    missing_final_states,
    pushed,
    quarantined_pushes,
    start_source,
    status_updates,
    topic_changes,
    wait_until,
)
from workers.kafka.topics import ensure_project_topics
from workers.observability.readiness import Readiness
from workers.services.apache_kafka import ApacheKafka
from workers.settings import KafkaSettings, ReconnectSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]


@pytest.fixture
def bootstrap_servers(own_broker: ApacheKafka) -> str:
    """The topics and the source of this module use the broker that the test stops."""
    return own_broker.bootstrap_servers


def reconnects() -> float:
    labels = {"component": "ingest_realtime", "dependency": "kafka"}
    return REGISTRY.get_sample_value("pulse_reconnects_total", labels) or 0.0


# The broker's controlled shutdown leaves its partitions without a leader until it is back, and
# a send waits for a leader at most SEND_TIMEOUT_S. The short outage, the broker's start
# included, stays within that: the sends wait and go through. The long one outlasts it: they fail and
# a catch-up on a new producer publishes the rows again, the rejects the failed sends carried are
# sent again and the status is published again.
SEND_TIMEOUT_S = 10.0


@pytest.mark.parametrize("down_s", [3.0, 16.0], ids=["sends_wait", "sends_time_out"])
async def test_a_broker_restart_leaves_the_realtime_source_running_and_every_state_published(
    emulator: RunningEmulator,
    own_broker: ApacheKafka,
    kafka_settings: KafkaSettings,
    down_s: float,
) -> None:
    assert kafka_settings.bootstrap_servers
    await ensure_project_topics(kafka_settings.bootstrap_servers, kafka_settings)
    sites = await make_sites(emulator.dsn)
    async with await psycopg.AsyncConnection.connect(emulator.dsn, autocommit=True) as conn:
        await conn.execute(
            "ALTER TABLE calls ALTER COLUMN site_id DROP NOT NULL, DROP CONSTRAINT calls_site_id_fkey"
        )
    readiness = Readiness()
    before = reconnects()
    source = start_source(
        emulator.url,
        emulator.service_key,
        kafka_settings,
        fast_options(PULSE_INGEST_SEND_TIMEOUT_S=SEND_TIMEOUT_S),
        readiness=readiness,
        reconnect=ReconnectSettings(PULSE_RECONNECT_INITIAL_S=0.2, PULSE_RECONNECT_MAX_S=2.0),
    )
    try:
        await source.live()
        await source.catchups_after_now(1)
        writer = Writer(emulator.dsn, sites, unsited=True)
        writer.start()
        await asyncio.sleep(1.0)
        statuses_before = await status_updates(kafka_settings)

        await asyncio.to_thread(own_broker.shutdown)
        down_at = time.monotonic()
        await wait_until(
            lambda: readiness.dependencies_away() == ["kafka"], "kafka away", down_s, source
        )
        assert not readiness.ready
        await asyncio.sleep(max(0.0, down_s - (time.monotonic() - down_at)))
        assert not source.task.done()

        await asyncio.to_thread(own_broker.launch)
        await wait_until(lambda: readiness.ready, "ready again", 90, source)
        assert reconnects() == before + 1
        await asyncio.sleep(1.0)
        await writer.stop()
        await source.catchups_after_now(2)
        assert not source.task.done()
        current = source.progress.tracker.history[-1]
    finally:
        progress = await source.close()
    changes = await topic_changes(kafka_settings)
    db = await database_rows(emulator.dsn)
    assert not missing_final_states(db, changes)
    assert progress.pushes > 0 and pushed(changes)

    # Deleted rows never come back through a catch-up: only their pushes' rejects show them.
    quarantined = await quarantined_pushes(kafka_settings)
    refused = {("calls", op, row) for row in writer.unsited_calls for op in ("INSERT", "DELETE")}
    lost = refused - set(quarantined)
    assert not lost, f"{len(lost)} of {len(refused)} refused pushes not quarantined"
    assert progress.rejected_acked == progress.rejected
    print(
        f"{len(refused)} pushes refused, {len(quarantined)} rejects on the topic "
        f"({len(quarantined) - len(set(quarantined))} repeats), {progress.rejected} counted; "
        f"{progress.producer_restarts} producer restarts"
    )

    sends_time_out = down_s > SEND_TIMEOUT_S
    assert progress.producer_restarts == (1 if sends_time_out else 0)
    if sends_time_out:
        # Failed sends may have carried status updates, so the current state is published again.
        newest_before = max(update.seq for update in statuses_before)
        after = [u for u in await status_updates(kafka_settings) if u.seq > newest_before]
        assert current.live
        assert all(
            any(u.site_id == site and u.status == current.status for u in after) for site in sites
        ), [(u.site_id, u.status) for u in after]
