"""``pulse replay`` against the real broker: exactly the records asked for, with their place."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from tests.unit.tools.updates import sites_on_partitions
from workers.cli.main import main
from workers.kafka.codec import encode_batch
from workers.kafka.partitioner import partition_for
from workers.settings import KafkaSettings
from workers.tools.errors import OffsetOutOfRange, ToolError
from workers.tools.offsets import AtOffset, AtTime, Position
from workers.tools.reading import TopicReader
from workers.tools.replay import ReplayedRecord, TopicKind, replay

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

T0_MS = int(datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp() * 1000)


def change(site: str, n: int) -> dict[str, object]:
    return {
        "op": "INSERT",
        "schema": "public",
        "table": "events",
        "record": {"id": f"e{n}", "site_id": site},
        "old_record": None,
        "commit_timestamp": "2026-11-23T12:00:00+00:00",
        "site_id": site,
        "source": "wal",
        "lsn": n,
        "event_id": f"ev-{site}-{n}",
    }


async def write_batches(
    producer: AIOKafkaProducer, topic: str, sites: list[str], count: int
) -> list[tuple[str, int, int, int]]:
    """``count`` ChangeBatch messages per site, stamped one second apart; (site, n, partition,
    offset) of each."""
    sent = []
    for n in range(count):
        for site in sites:
            future = await producer.send(
                topic,
                encode_batch(site, [change(site, n)]),
                key=site.encode(),
                timestamp_ms=T0_MS + n * 1000,
            )
            sent.append((site, n, future))
    return [(site, n, (m := await f).partition, m.offset) for site, n, f in sent]


async def collect(
    settings: KafkaSettings,
    kind: TopicKind,
    start: Position,
    to: Position | None = None,
    **where: object,
) -> list[ReplayedRecord]:
    topic = {
        "supabase_changes": settings.changes_topic,
        "dashboard_updates": settings.updates_topic,
        "supabase_changes_rejected": settings.rejected_topic,
    }[kind]
    async with TopicReader(str(settings.bootstrap_servers), topic) as reader:
        return [
            r
            async for r in replay(
                reader,
                kind,
                start,
                to,
                site_id=where.get("site_id"),  # type: ignore[arg-type]
                partition=where.get("partition"),  # type: ignore[arg-type]
            )
        ]


async def test_replay_returns_exactly_the_records_at_the_asked_offsets(
    topics: KafkaSettings, producer: AIOKafkaProducer
) -> None:
    site_a, site_b, _ = sites_on_partitions(topics.partitions, "replay")
    sent = await write_batches(producer, topics.changes_topic, [site_a, site_b], 60)
    partition = partition_for(site_a.encode(), topics.partitions)
    by_offset = {offset: (site, n) for site, n, _, offset in sent}
    last = max(by_offset)

    records = await collect(
        topics, "supabase_changes", AtOffset(30), AtOffset(49), partition=partition
    )
    assert [r.record.offset for r in records] == list(range(30, 50))
    for r in records:
        site, n = by_offset[r.record.offset]
        assert r.record.partition == partition
        assert r.record.key == site.encode()
        assert r.value["changes"][0]["event_id"] == f"ev-{site}-{n}"
        assert r.record.timestamp_ms == T0_MS + n * 1000
        assert r.error is None

    # The last offset lies past the end offset the broker reports; it is still reachable.
    tail_end = await collect(
        topics, "supabase_changes", AtOffset(last - 2), AtOffset(last), partition=partition
    )
    assert [r.record.offset for r in tail_end] == [last - 2, last - 1, last]

    site_only = await collect(topics, "supabase_changes", AtOffset(0), site_id=site_b)
    assert [r.value["changes"][0]["lsn"] for r in site_only] == list(range(60))
    assert {r.record.key for r in site_only} == {site_b.encode()}


async def test_replay_by_time_uses_the_record_timestamps(
    topics: KafkaSettings, producer: AIOKafkaProducer
) -> None:
    site_a, _, _ = sites_on_partitions(topics.partitions, "time")
    await write_batches(producer, topics.changes_topic, [site_a], 40)

    def at(seconds: float) -> AtTime:
        return AtTime(datetime.fromtimestamp((T0_MS + seconds * 1000) / 1000, tz=UTC))

    records = await collect(topics, "supabase_changes", at(10), at(19.5), site_id=site_a)
    assert [r.value["changes"][0]["lsn"] for r in records] == list(range(10, 20))
    # Across every partition too (time positions need no partition).
    everywhere = await collect(topics, "supabase_changes", at(35))
    assert [r.value["changes"][0]["lsn"] for r in everywhere] == list(range(35, 40))


async def test_replay_errors_are_clear(topics: KafkaSettings, producer: AIOKafkaProducer) -> None:
    site_a, _, _ = sites_on_partitions(topics.partitions, "err")
    sent = await write_batches(producer, topics.changes_topic, [site_a], 10)
    last = sent[-1][3]
    with pytest.raises(OffsetOutOfRange, match=f"offset {last + 5} is out of range"):
        await collect(topics, "supabase_changes", AtOffset(last + 5), site_id=site_a)
    with pytest.raises(OffsetOutOfRange, match=f"--to offset {last + 1}"):
        await collect(topics, "supabase_changes", AtOffset(0), AtOffset(last + 1), site_id=site_a)
    with pytest.raises(ToolError, match="offsets are per partition"):
        await collect(topics, "supabase_changes", AtOffset(0))
    assert await collect(topics, "supabase_changes", AtOffset(last + 1), site_id=site_a) == []


async def test_replay_flags_invalid_values_without_dropping_them(
    topics: KafkaSettings, producer: AIOKafkaProducer
) -> None:
    topic = topics.rejected_topic
    await producer.send_and_wait(
        topic,
        orjson.dumps({"reason": "no_site", "detail": "x", "stage": "ingest"}),
        key=b"k",
        partition=0,
    )
    await producer.send_and_wait(topic, b"not json", key=b"k", partition=0)
    await producer.send_and_wait(topic, b'{"reason": "bogus"}', key=b"k", partition=0)
    records = await collect(topics, "supabase_changes_rejected", AtOffset(0), partition=0)
    assert [r.error is None for r in records] == [True, False, False]
    assert records[1].value == "not json"


def run_cli(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    *argv: str,
) -> tuple[int, str, str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_replay_command_prints_json_lines_and_clear_errors(
    kafka_settings: KafkaSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import asyncio

    from workers.kafka.topics import ensure_project_topics

    bootstrap = str(kafka_settings.bootstrap_servers)
    asyncio.run(ensure_project_topics(bootstrap, kafka_settings))

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
        await producer.start()
        try:
            await write_batches(producer, kafka_settings.changes_topic, ["cli-site"], 12)
        finally:
            await producer.stop()

    asyncio.run(produce())
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "PULSE_CHANGES_TOPIC": kafka_settings.changes_topic,
    }
    status, out, _ = run_cli(
        monkeypatch,
        capsys,
        env,
        "replay",
        "--topic",
        "supabase_changes",
        "--site",
        "cli-site",
        "--from",
        "offset:3",
        "--to",
        "offset:5",
    )
    assert status == 0
    lines = [orjson.loads(line) for line in out.splitlines()]
    assert [line["offset"] for line in lines] == [3, 4, 5]
    assert {"topic", "partition", "timestamp", "key", "value"} <= set(lines[0])

    status, _, err = run_cli(
        monkeypatch,
        capsys,
        {**env, "PULSE_CHANGES_TOPIC": "no_such_topic"},
        "replay",
        "--topic",
        "supabase_changes",
        "--from",
        "beginning",
    )
    assert status == 2 and "topic 'no_such_topic' does not exist" in err

    status, _, err = run_cli(
        monkeypatch,
        capsys,
        env,
        "replay",
        "--topic",
        "supabase_changes",
        "--site",
        "cli-site",
        "--from",
        "offset:40",
    )
    assert status == 2 and "out of range" in err and "holds offsets 0..11" in err

    started = time.monotonic()
    status, _, err = run_cli(
        monkeypatch,
        capsys,
        {**env, "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"},
        "replay",
        "--topic",
        "supabase_changes",
        "--from",
        "beginning",
    )
    assert status == 2 and "cannot reach Kafka at 127.0.0.1:1" in err
    assert time.monotonic() - started < 30
