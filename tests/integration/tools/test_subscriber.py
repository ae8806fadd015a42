"""The typed subscriber API against the real broker: one site's models, resumable by offset."""

from __future__ import annotations

import asyncio
import re
from datetime import date

import pytest
from aiokafka import AIOKafkaProducer

from schemas.updates import EventCreated, KpiUpdated
from tests.integration.tools.conftest import send_updates
from tests.unit.tools.updates import event_update, kpi_update, sites_on_partitions
from workers.settings import KafkaSettings
from workers.subscriber import InvalidUpdate, OffsetOutOfRange, SiteSubscription, TopicMissing

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


async def take(subscription: SiteSubscription, count: int) -> list[object]:
    return [await asyncio.wait_for(anext(subscription), 20) for _ in range(count)]


async def test_subscription_yields_typed_updates_of_its_site_and_resumes(
    topics: KafkaSettings, producer: AIOKafkaProducer
) -> None:
    site_a, site_b, _ = sites_on_partitions(topics.partitions, "sub")
    topic = topics.updates_topic
    day = date(2026, 11, 23)
    await send_updates(
        producer,
        topic,
        [u for seq in range(5) for u in (event_update(site_a, seq), event_update(site_b, seq))],
    )
    bootstrap = str(topics.bootstrap_servers)
    async with SiteSubscription(site_a, bootstrap_servers=bootstrap, topic=topic) as updates:
        first = await take(updates, 5)
        assert all(isinstance(u, EventCreated) and u.site_id == site_a for u in first)
        assert [u.seq for u in first] == list(range(5))  # type: ignore[attr-defined]
        # Written while subscribed: arrives without restarting.
        await send_updates(
            producer, topic, [kpi_update(site_b, 5, day), kpi_update(site_a, 5, day)]
        )
        live = await take(updates, 1)
        assert isinstance(live[0], KpiUpdated) and live[0].site_id == site_a
        saved = updates.next_offset
    assert saved is not None

    await send_updates(producer, topic, [event_update(site_a, 6), event_update(site_b, 6)])
    async with SiteSubscription(
        site_a, bootstrap_servers=bootstrap, topic=topic, from_offset=saved
    ) as resumed:
        again = await take(resumed, 1)
    assert [u.seq for u in again] == [6]  # type: ignore[attr-defined]


async def test_subscription_raises_on_invalid_records_and_carries_on(
    topics: KafkaSettings, producer: AIOKafkaProducer
) -> None:
    site_a, _, _ = sites_on_partitions(topics.partitions, "subbad")
    topic = topics.updates_topic
    await send_updates(producer, topic, [event_update(site_a, 0)])
    await producer.send_and_wait(topic, b'{"type": "kpi_updated"}', key=site_a.encode())
    await send_updates(producer, topic, [event_update(site_a, 1)])
    async with SiteSubscription(
        site_a, bootstrap_servers=str(topics.bootstrap_servers), topic=topic
    ) as updates:
        assert (await anext(updates)).seq == 0
        with pytest.raises(InvalidUpdate) as caught:
            await anext(updates)
        assert updates.next_offset == caught.value.offset + 1
        assert (await anext(updates)).seq == 1


async def test_subscription_refuses_an_offset_out_of_range(
    topics: KafkaSettings, producer: AIOKafkaProducer
) -> None:
    site_a, _, _ = sites_on_partitions(topics.partitions, "subrange")
    await send_updates(producer, topics.updates_topic, [event_update(site_a, 0)])
    async with SiteSubscription(
        site_a,
        bootstrap_servers=str(topics.bootstrap_servers),
        topic=topics.updates_topic,
        from_offset=5,
    ) as updates:
        with pytest.raises(OffsetOutOfRange, match=re.escape("holds offsets 0..0")):
            await anext(updates)


async def test_subscription_to_a_missing_topic_fails_at_once(topics: KafkaSettings) -> None:
    with pytest.raises(TopicMissing, match="'no_such_updates' does not exist"):
        async with SiteSubscription(
            "a", bootstrap_servers=str(topics.bootstrap_servers), topic="no_such_updates"
        ):
            pass
