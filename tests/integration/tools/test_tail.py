"""``pulse tail`` against the real broker: one site's partition and key, nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import signal
import sys
import time
from collections.abc import Sequence
from datetime import date

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from schemas.updates import DashboardUpdate
from tests.integration.tools.conftest import send_updates
from tests.unit.tools.updates import event_update, kpi_update, sites_on_partitions
from workers.kafka.partitioner import partition_for
from workers.settings import KafkaSettings
from workers.tools.errors import OffsetOutOfRange, UnknownSite
from workers.tools.offsets import AtOffset, Beginning, Position
from workers.tools.reading import TopicReader
from workers.tools.tail import CaughtUp, SiteRecord, site_records

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

# A shell without job control starts background commands with SIGINT ignored, and Python keeps
# an inherited SIG_IGN. These tests stop the tail with SIGINT, as a user's Ctrl-C would, so the
# child gets the default action whatever launched the suite.
default_sigint = functools.partial(signal.signal, signal.SIGINT, signal.SIG_DFL)


async def start_tail(topics: KafkaSettings, site: str, *options: str) -> asyncio.subprocess.Process:
    """``pulse tail --site SITE --follow`` as a child, with both outputs piped."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": str(topics.bootstrap_servers),
        "PULSE_UPDATES_TOPIC": topics.updates_topic,
    }
    env.pop("DATABASE_URL", None)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "workers.cli.main",
        "tail",
        "--site",
        site,
        "--follow",
        *options,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=default_sigint,
    )


def interleaved(sites: Sequence[str], per_site: int) -> list[DashboardUpdate]:
    return [event_update(site, seq) for seq in range(per_site) for site in sites]


async def collect(
    reader: TopicReader, site: str, start: Position | None = None
) -> list[SiteRecord]:
    records = []
    async for item in site_records(reader, site, start or Beginning(), follow=False):
        assert isinstance(item, SiteRecord)
        records.append(item)
    return records


async def test_tail_follow_shows_only_its_site_while_others_are_written(
    topics: KafkaSettings, producer: AIOKafkaProducer
) -> None:
    site_a, site_b, site_c = sites_on_partitions(topics.partitions, "tail")
    topic = topics.updates_topic
    home = partition_for(site_a.encode(), topics.partitions)
    await send_updates(producer, topic, interleaved([site_a, site_b, site_c], 20))
    tail = await start_tail(topics, site_a, "--json")
    try:
        assert tail.stdout is not None
        lines = [
            orjson.loads(await asyncio.wait_for(tail.stdout.readline(), 30)) for _ in range(20)
        ]
        # Both sites written while the tail follows: A's new updates arrive, B's never do.
        writer = asyncio.create_task(
            send_updates(
                producer,
                topic,
                [event_update(s, seq) for seq in range(20, 60) for s in (site_a, site_b, site_c)],
            )
        )
        lines += [
            orjson.loads(await asyncio.wait_for(tail.stdout.readline(), 30)) for _ in range(40)
        ]
        await writer
    finally:
        tail.send_signal(signal.SIGINT)
        await asyncio.wait_for(tail.wait(), 15)
    assert {line["update"]["site_id"] for line in lines} == {site_a}
    assert [line["update"]["seq"] for line in lines] == list(range(60))
    assert {line["partition"] for line in lines} == {home}


async def test_ctrl_c_stops_a_tail_in_the_middle_of_a_long_backlog(
    topics: KafkaSettings, producer: AIOKafkaProducer
) -> None:
    site, _, _ = sites_on_partitions(topics.partitions, "backlog")
    # Records that are not valid updates: each becomes a warning line, rendered by rich (about
    # a millisecond each), so the backlog of one fetch takes seconds to print.
    sent = [
        await producer.send(topics.updates_topic, b'{"type": "event_created"}', key=site.encode())
        for _ in range(6000)
    ]
    await asyncio.gather(*sent)
    tail = await start_tail(topics, site)
    assert tail.stderr is not None
    while b"not a valid update" not in await asyncio.wait_for(tail.stderr.readline(), 30):
        pass
    # The rest of stderr is read meanwhile, so a full pipe cannot hold the tail up.
    rest = asyncio.create_task(tail.stderr.read())
    interrupted = time.monotonic()
    tail.send_signal(signal.SIGINT)
    await asyncio.wait_for(tail.wait(), 30)
    stopped_after = time.monotonic() - interrupted
    printed = (await rest).count(b"not a valid update") + 1
    assert tail.returncode == 130
    assert printed < 6000
    assert stopped_after < 2.0


async def test_tail_reads_only_the_partition_that_holds_the_site(
    topics: KafkaSettings, producer: AIOKafkaProducer
) -> None:
    site_a, site_b, _ = sites_on_partitions(topics.partitions, "part")
    topic = topics.updates_topic
    home = partition_for(site_a.encode(), topics.partitions)
    elsewhere = (home + 1) % topics.partitions
    await send_updates(producer, topic, interleaved([site_a, site_b], 5))
    # A record keyed by A but written to another partition is outside what the tail reads.
    await producer.send_and_wait(
        topic,
        event_update(site_a, 99).model_dump_json().encode(),
        key=site_a.encode(),
        partition=elsewhere,
    )
    async with TopicReader(str(topics.bootstrap_servers), topic) as reader:
        records = await collect(reader, site_a)
    assert [r.update.seq for r in records if r.update] == list(range(5))
    assert all(r.partition == home for r in records)


async def test_tail_without_follow_reaches_the_real_end_despite_the_reported_one(
    topics: KafkaSettings, producer: AIOKafkaProducer
) -> None:
    site_a, _, _ = sites_on_partitions(topics.partitions, "end")
    topic = topics.updates_topic
    positions = await send_updates(
        producer, topic, [kpi_update(site_a, seq, date(2026, 11, 23)) for seq in range(200)]
    )
    async with TopicReader(str(topics.bootstrap_servers), topic) as reader:
        records = await collect(reader, site_a)
    assert [r.offset for r in records] == [offset for _, offset in positions]
    assert [r.update.seq for r in records if r.update] == list(range(200))


async def test_tail_from_an_offset_and_out_of_range(
    topics: KafkaSettings, producer: AIOKafkaProducer
) -> None:
    site_a, _, _ = sites_on_partitions(topics.partitions, "off")
    topic = topics.updates_topic
    positions = await send_updates(producer, topic, [event_update(site_a, s) for s in range(10)])
    offsets = [offset for _, offset in positions]
    async with TopicReader(str(topics.bootstrap_servers), topic) as reader:
        records = await collect(reader, site_a, start=AtOffset(offsets[6]))
        assert [r.update.seq for r in records if r.update] == [6, 7, 8, 9]
        with pytest.raises(OffsetOutOfRange, match=re.escape(f"holds offsets 0..{offsets[-1]}")):
            await collect(reader, site_a, start=AtOffset(offsets[-1] + 2))


async def test_tail_of_a_site_without_updates_says_so(
    topics: KafkaSettings, producer: AIOKafkaProducer
) -> None:
    site_a, site_b, _ = sites_on_partitions(topics.partitions, "none")
    await send_updates(producer, topics.updates_topic, [event_update(site_b, 0)])
    async with TopicReader(str(topics.bootstrap_servers), topics.updates_topic) as reader:
        with pytest.raises(UnknownSite, match=f"no updates for site '{site_a}'"):
            await collect(reader, site_a)
        following = site_records(reader, site_a, Beginning(), follow=True)
        first = await anext(following)
        await following.aclose()
    assert isinstance(first, CaughtUp) and first.records == 0


async def test_tail_reports_invalid_records_instead_of_dropping_them(
    topics: KafkaSettings, producer: AIOKafkaProducer
) -> None:
    site_a, _, _ = sites_on_partitions(topics.partitions, "bad")
    topic = topics.updates_topic
    await send_updates(producer, topic, [event_update(site_a, 0)])
    await producer.send_and_wait(topic, b'{"type": "nonsense"}', key=site_a.encode())
    async with TopicReader(str(topics.bootstrap_servers), topic) as reader:
        records = await collect(reader, site_a)
    assert records[0].update is not None
    assert records[1].update is None and records[1].error


async def test_tail_without_follow_ends_while_the_site_keeps_being_written(
    topics: KafkaSettings, producer: AIOKafkaProducer
) -> None:
    site_a, _, _ = sites_on_partitions(topics.partitions, "busy")
    topic = topics.updates_topic
    await send_updates(producer, topic, [event_update(site_a, seq) for seq in range(100)])
    writing = asyncio.Event()

    async def keep_writing() -> None:
        seq = 100
        while True:
            await send_updates(producer, topic, [event_update(site_a, seq)])
            writing.set()
            seq += 1
            await asyncio.sleep(0.01)

    writer = asyncio.create_task(keep_writing())
    try:
        await writing.wait()
        async with TopicReader(str(topics.bootstrap_servers), topic) as reader:
            # The polls never go quiet here; the read must still end at the end it found.
            records = await asyncio.wait_for(collect(reader, site_a), 20)
    finally:
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
    seqs = [r.update.seq for r in records if r.update]
    assert seqs == list(range(len(seqs))) and len(seqs) > 100
