"""Fails a stream worker's liveness while it holds lagging source partitions it does not fetch.

How to wire it (where the Faust app is built, next to ``track_faust_readiness``):

    install_fetch_stall_check(app, readiness, kafka.changes_topic, bootstrap, limit_s=300.0)

A Faust timer reads the consumer's fetch positions (``faust_adapter``'s ``fetch_positions``) and
asks the broker for the partitions' end offsets on a connection of its own: the consumer's own
high watermarks are as old as its last fetch, so a consumer that stopped fetching would never
see lag appear. The verdict (``fetch_stall``) is reported as a ``Readiness`` stall, so
``/healthz`` answers 503 while it lasts and 200 again once the partitions are read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from typing import Any

import faust
import structlog
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from workers.kafka.clients import new_consumer
from workers.observability.faust_readiness import FaustState, read_state
from workers.observability.fetch_stall import FetchStallCheck, stall_reason
from workers.observability.readiness import Readiness

log = structlog.get_logger("pulse.health")

STALL = "fetch"
CHECKS_PER_LIMIT = 4
LONGEST_CHECK_S = 15.0
ENDS_TIMEOUT_S = 10.0


def check_interval(limit_s: float) -> float:
    return min(LONGEST_CHECK_S, limit_s / CHECKS_PER_LIMIT)


def settled(state: FaustState) -> bool:
    """No restore or rebalance under way: Faust pauses the source partitions during both."""
    return state.recovery_completed and not state.in_recovery and not state.rebalancing


async def end_offsets(bootstrap: str, topic: str, partitions: Collection[int]) -> dict[int, int]:
    """The broker's end offsets of ``topic``'s ``partitions``, on a consumer of its own."""
    consumer = new_consumer(bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, partition) for partition in sorted(partitions)]
        ends = await asyncio.wait_for(consumer.end_offsets(tps), ENDS_TIMEOUT_S)
        return {tp.partition: int(end) for tp, end in ends.items()}
    finally:
        await consumer.stop()


def install_fetch_stall_check(
    app: faust.App, readiness: Readiness, source_topic: str, bootstrap: str, limit_s: float
) -> None:
    check = FetchStallCheck(limit_s)
    reported: list[str | None] = [None]

    async def check_fetching() -> None:
        consumer: Any = app.consumer
        positions: dict[int, int | None] = consumer.fetch_positions()
        is_settled = settled(read_state(app))
        ends: dict[int, int] = {}
        if is_settled and positions:
            try:
                ends = await end_offsets(bootstrap, source_topic, positions)
            except (KafkaError, OSError, TimeoutError) as exc:
                # No verdict without the ends; a broker this worker cannot reach is a
                # dependency outage, which a restart would not cure.
                log.warning("end offsets not readable for the fetch check", error=repr(exc))
                return
        stalled = check.observe(time.monotonic(), positions, ends, is_settled)
        reason = stall_reason(stalled, limit_s)
        readiness.stalled(STALL, reason)
        was, reported[0] = reported[0], reason
        if reason is not None and was is None:
            log.error(
                "lagging source partitions not fetched; failing liveness",
                stalled_s={p: round(s, 1) for p, s in sorted(stalled.items())},
                limit_s=limit_s,
            )
        elif reason is None and was is not None:
            log.info("source partitions fetched again; liveness restored")

    app.timer(check_interval(limit_s), name="pulse_fetch_stall")(check_fetching)
