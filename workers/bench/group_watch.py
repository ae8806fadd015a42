"""What the broker says of a consumer group now: its members, state and committed offsets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition


@dataclass(frozen=True)
class GroupView:
    state: str
    members: frozenset[str]
    committed: dict[int, int | None]


class GroupWatch:
    """One admin client, asked again on every ``view`` (the recovery stage polls it)."""

    def __init__(self, bootstrap: str, group: str, topic: str, partitions: Iterable[int]) -> None:
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._group = group
        self._tps = [TopicPartition(topic, partition) for partition in sorted(set(partitions))]

    async def __aenter__(self) -> GroupWatch:
        await self._admin.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self._admin.close()

    async def view(self, timeout_s: float = 30.0) -> GroupView:
        """The group now; retried while the broker cannot say yet (e.g. its coordinator is
        still being elected for a new group)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return await self._view()
            except KafkaError as exc:
                if not exc.retriable or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.1)

    async def _view(self) -> GroupView:
        described = await self._admin.describe_consumer_groups([self._group])
        state, members = "Dead", frozenset[str]()
        for response in described:
            for group in response.groups:
                # (error_code, group_id, state, protocol_type, protocol, members, ...); each
                # member starts with its member ID.
                if group[1] == self._group:
                    state = str(group[2])
                    members = frozenset(str(member[0]) for member in group[5])
        offsets = await self._admin.list_consumer_group_offsets(self._group, partitions=self._tps)
        committed: dict[int, int | None] = {}
        for tp in self._tps:
            found = offsets.get(tp)
            committed[tp.partition] = (
                found.offset if found is not None and found.offset >= 0 else None
            )
        return GroupView(state, members, committed)
