"""How our Kafka clients are made: idempotent producers, read-committed consumers.

Every producer of ours is idempotent (acks=all, producer IDs and sequence numbers), so a retried
send never writes a record twice. Every consumer reads committed records only, so nothing a
transaction aborted (a worker that crashed or was fenced mid-batch) is ever seen downstream.
The fallback broker for the demo lacks producer IDs and transactions: ``broker_quirks`` is the
one place that relaxes these defaults for it. TLS and SASL come from ``security``, so every
client made here reaches a secured cluster.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaClient, AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from workers.kafka import broker_quirks
from workers.kafka.security import client_security


def new_producer(bootstrap: str, **options: Any) -> AIOKafkaProducer:
    """An idempotent producer (``options`` add to or override aiokafka's settings)."""
    settings: dict[str, Any] = {"acks": "all", "enable_idempotence": True}
    settings.update(client_security().aiokafka_options())
    settings.update(options)
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, **broker_quirks.producer_settings(settings)
    )


def new_consumer(bootstrap: str, *topics: str, **options: Any) -> AIOKafkaConsumer:
    """A consumer of committed records that commits nothing unless told to."""
    settings: dict[str, Any] = {"isolation_level": "read_committed", "enable_auto_commit": False}
    settings.update(client_security().aiokafka_options())
    settings.update(options)
    return AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, **broker_quirks.consumer_settings(settings)
    )


def new_admin(bootstrap: str, **options: Any) -> AIOKafkaAdminClient:
    """An admin client (``options`` add to aiokafka's settings)."""
    return AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, **client_security().aiokafka_options(), **options
    )


def new_client(bootstrap: str, **options: Any) -> AIOKafkaClient:
    """A bare client, for cluster metadata only (``options`` add to aiokafka's settings)."""
    return AIOKafkaClient(
        bootstrap_servers=bootstrap, **client_security().aiokafka_options(), **options
    )


async def partitions_of(bootstrap: str, topic: str, wait_s: float = 0.0) -> set[int]:
    """The partitions of ``topic`` (empty if it does not exist within ``wait_s``).

    Asked of the cluster's metadata directly: a consumer keeps metadata only of the topics it
    subscribed to, not of those it is assigned by hand.
    """
    admin = new_admin(bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + wait_s
        while True:
            described = await admin.describe_topics([topic])
            partitions = {
                int(partition["partition"])
                for found in described
                if found["topic"] == topic and found["error_code"] == 0
                for partition in found["partitions"]
            }
            if partitions or time.monotonic() >= deadline:
                return partitions
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
