"""Faust's Kafka consumer with a configurable fetch wait.

Faust hard-codes ``fetch_max_wait_ms=1500`` for its worker consumer. Apache Kafka answers a
fetch as soon as records arrive, but a broker that holds every fetch for the full wait (the
bundled Tansu broker does: produce-to-consume p50 was 413 ms at 1500 ms and 2.5 ms at 10 ms) turns
that setting straight into end-to-end latency. The wait is only how long an idle fetch may
hang, so a short one costs a few more fetch requests while idle and nothing under load.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka


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
