"""The chaos verdict's reader on a real broker: what it folds from ``supabase_changes``, a
``days`` changelog and the quarantine topic reaches the accounting, so a change no tally counts
and a forged row rejected twice are found, and exact figures are not."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import pytest

from schemas.changes import RejectedRecord
from workers.chaos.accounting import Segment, run_findings
from workers.chaos.observer import TopicObserver, days_changelog
from workers.kafka.clients import new_producer
from workers.kafka.codec import encode_batch
from workers.kafka.topics import ensure_project_topics, ensure_topics
from workers.settings import KafkaSettings
from workers.stream.rules.accounting import TALLY_KEY, Tally

pytestmark = pytest.mark.integration

SITE = "00000000-0000-4000-8000-000000000001"
APP_ID = "pulse-chaos-observer-test"


def change(n: int) -> dict[str, object]:
    return {"site_id": SITE, "event_id": f"events:{n}:1:d", "lsn": n, "table": "events"}


def rejected(event_id: str) -> bytes:
    record = RejectedRecord(
        reason="site_mismatch", detail="forged", stage="stream", site_id=SITE, event_id=event_id
    )
    return record.model_dump_json().encode()


async def observe_until(
    observer: TopicObserver, done: Callable[[TopicObserver], bool], within_s: float = 60
) -> None:
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(observer.follow(ready, stop))
    deadline = time.monotonic() + within_s
    try:
        while time.monotonic() < deadline and not done(observer):
            assert not task.done(), task
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.parametrize("counted", [3, 2])
async def test_what_the_reader_folds_decides_the_verdict(
    kafka_settings: KafkaSettings, counted: int
) -> None:
    bootstrap = kafka_settings.bootstrap_servers
    assert bootstrap is not None
    changelog = f"{days_changelog(APP_ID)}-{kafka_settings.changes_topic}"
    await ensure_project_topics(bootstrap, kafka_settings)
    await ensure_topics(bootstrap, [changelog], kafka_settings.partitions)
    tally = Tally(consumed=counted, admitted=counted - 1, rejected=1)
    # The broken case also rejects its forged row twice.
    rejected_times = 1 if counted == 3 else 2
    producer = new_producer(bootstrap)
    await producer.start()
    try:
        changes = [change(n) for n in range(3)]
        await producer.send_and_wait(
            kafka_settings.changes_topic, encode_batch(SITE, changes), partition=0
        )
        await producer.send_and_wait(changelog, tally.to_bytes(), key=TALLY_KEY, partition=0)
        for _ in range(rejected_times):
            await producer.send_and_wait(kafka_settings.rejected_topic, rejected("events:0:1:d"))
    finally:
        await producer.stop()

    observer = TopicObserver(
        bootstrap, kafka_settings.changes_topic, kafka_settings.rejected_topic, changelog
    )

    def all_read(o: TopicObserver) -> bool:
        times = sum(o.rejections.get(SITE, {}).values())
        return bool(o.tallies and o.on_topic) and times == rejected_times

    await observe_until(observer, all_read)
    observed = observer.observed()
    assert observed.on_topic == {0: 3}
    assert observed.tallies == {0: tally}
    assert observed.distinct_by_site == {SITE: 3}
    findings = run_findings(observed, [Segment((SITE,), written=3, forged=1)], {}, {})
    if counted == 3:
        assert findings.ok, findings.reasons
    else:
        assert (findings.lost, findings.double_counted) == (1, 1), findings.reasons
