"""The Kafka watch against an address where no broker listens: the link goes away and stays
away, with one log line, and the watch ends when asked."""

from __future__ import annotations

import asyncio
from typing import Any

from workers.observability.readiness import Readiness
from workers.resilience.backoff import BackoffPolicy
from workers.resilience.kafka_watch import watch_kafka
from workers.resilience.link import DependencyLink
from workers.services.ports import free_port


class Lines:
    def __init__(self) -> None:
        self.events: list[str] = []

    def warning(self, event: str, **_: Any) -> None:
        self.events.append(event)

    def info(self, event: str, **_: Any) -> None:
        self.events.append(event)


async def test_no_broker_is_one_outage_reported_until_the_watch_stops() -> None:
    readiness = Readiness()
    lines = Lines()
    link = DependencyLink("unit", "kafka", readiness, lines)
    stop = asyncio.Event()
    watch = asyncio.create_task(
        watch_kafka(
            f"127.0.0.1:{free_port()}",
            link,
            BackoffPolicy(initial_s=0.01, maximum_s=0.05),
            stop,
            timeout_s=1.0,
        )
    )
    async with asyncio.timeout(10):
        while link.up:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)  # several more failed attempts
    assert readiness.dependencies_away() == ["kafka"]
    assert lines.events == ["kafka lost; reconnecting"]
    stop.set()
    await asyncio.wait_for(watch, 5)
