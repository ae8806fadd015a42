"""Creating the project's topics when they are missing."""

from __future__ import annotations

import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from workers.settings import KafkaSettings


class BrokerUnreachable(RuntimeError):
    pass


async def ensure_topics(
    bootstrap: str, names: list[str], partitions: int, replication: int = 1
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        await admin.start()
    except KafkaConnectionError as exc:
        raise BrokerUnreachable(f"cannot reach Kafka at {bootstrap}: {exc}") from exc
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
    finally:
        await admin.close()


async def ensure_project_topics(bootstrap: str, settings: KafkaSettings) -> None:
    await ensure_topics(
        bootstrap,
        [settings.changes_topic, settings.updates_topic, settings.rejected_topic],
        settings.partitions,
        settings.replication_factor,
    )
