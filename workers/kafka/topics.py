"""Creating the project's topics when they are missing, and waiting until they can be used."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from workers.kafka.access import KafkaAccessError, check_access
from workers.kafka.clients import new_admin
from workers.settings import KafkaSettings

# Kafka answers CreateTopics once the controller has recorded the topic; its partitions get
# leaders, and clients' metadata shows them, a moment later.
READY_TIMEOUT_S = 30.0


def unready(topics: list[Any], names: list[str]) -> list[str]:
    """The names among ``names`` whose metadata (``describe_topics``) lacks a partition leader."""
    ready = {
        topic["topic"]
        for topic in topics
        if topic["error_code"] == 0
        and topic["partitions"]
        and all(partition["leader"] >= 0 for partition in topic["partitions"])
    }
    return [name for name in names if name not in ready]


async def wait_until_ready(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while waiting := unready(await admin.describe_topics(names), names):
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"topics {', '.join(waiting)} have partitions without a leader after "
                f"{READY_TIMEOUT_S:.0f} s"
            )
        await asyncio.sleep(0.1)


async def ensure_topics(
    bootstrap: str, names: list[str], partitions: int, replication: int = 1
) -> None:
    await check_access(bootstrap)
    admin = new_admin(bootstrap, request_timeout_ms=15000)
    try:
        await admin.start()
    except KafkaConnectionError as exc:
        raise KafkaAccessError(f"cannot reach Kafka at {bootstrap}: {exc}") from exc
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in names if name not in existing]
        if not missing:
            return
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(
                [
                    NewTopic(name, num_partitions=partitions, replication_factor=replication)
                    for name in missing
                ]
            )
        await wait_until_ready(admin, missing)
    finally:
        await admin.close()


async def ensure_project_topics(bootstrap: str, settings: KafkaSettings) -> None:
    await ensure_topics(
        bootstrap,
        [settings.changes_topic, settings.updates_topic, settings.rejected_topic],
        settings.partitions,
        settings.replication_factor,
    )
