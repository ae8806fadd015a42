"""Faust's Kafka consumer with a configurable fetch wait, which never skips source offsets.

Faust hard-codes ``fetch_max_wait_ms=1500`` for its worker consumer. Apache Kafka answers a
fetch as soon as records arrive, but a broker that holds every fetch for the full wait (the
bundled Tansu broker does: produce-to-consume p50 was 413 ms at 1500 ms and 2.5 ms at 10 ms) turns
that setting straight into end-to-end latency. The wait is only how long an idle fetch may
hang, so a short one costs a few more fetch requests while idle and nothing under load.

Faust counts a jump in a partition's offsets as a "gap" that is acknowledged already, meant for
compacted or transactional topics. ``supabase_changes`` is neither, so a jump there only ever
comes from a fetch race around a rebalance (``stream.continuity``), and counting it acknowledged
would let the committed offset pass messages never processed: a crash then loses them. Here
nothing is counted; the committed offset waits until the skipped messages are read again.
"""

from __future__ import annotations

from typing import Any

import faust
import structlog
from faust.transport.drivers import aiokafka as faust_aiokafka

log = structlog.get_logger("pulse.stream")


def transport_with_fetch_wait(fetch_max_wait_ms: int) -> type[faust_aiokafka.Transport]:
    class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            # aiokafka reads this when the consumer starts, after Faust built it.
            consumer._fetch_max_wait_ms = fetch_max_wait_ms
            return consumer

    class Consumer(faust_aiokafka.Consumer):
        def _new_consumer_thread(self) -> ConsumerThread:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

        async def _add_gap(self, tp: Any, offset_from: int, offset_to: int) -> None:
            log.warning(
                "offset jump not counted as acknowledged",
                topic=tp.topic,
                partition=tp.partition,
                first_missing=offset_from,
                next_read=offset_to,
            )

    class Transport(faust_aiokafka.Transport):
        pass

    Transport.Consumer = Consumer
    return Transport


class PulseApp(faust.App):
    """A Faust app whose consumer uses ``fetch_max_wait_ms`` (set before the first topic)."""

    fetch_max_wait_ms: int = 1500

    def _new_transport(self) -> Any:
        transport = transport_with_fetch_wait(self.fetch_max_wait_ms)
        return transport(self.conf.broker_consumer, self)
