"""The one place where a processed batch becomes durable, and the order in which it does.

``Checkpoint.commit``, for the records of one source partition:
1. begin a Kafka transaction on that partition's producer;
2. send the batch's updates, rejects and changelog records, and wait for their acks;
3. add the source offset after the batch to the transaction (the group's committed offset);
4. commit the transaction: Kafka makes all of it visible to read-committed readers at once,
   or none of it;
5. apply the state writes to the local RocksDB stores, each store's changelog offset in the same
   write batch as its data.

A crash before 4 leaves nothing visible: the transaction is aborted (by the partition's next
producer, at its start, or by the broker's transaction timeout), and the next owner of the
partition starts from the last committed offset with its tables restored from the committed
changelog. A crash between 4 and 5 leaves a local store behind its changelog; the restore at the
next start reads the rest.

Fencing: each source partition has its own producer, whose transactional ID names the group and
the partition. A worker that is assigned the partition starts that producer at once, which fences
the previous owner's: should that worker wake up (a paused process, a network partition), its
next transaction fails with ``ProducerFenced`` before anything is visible, and it stops.

On the demo's Tansu fallback, which has no transactions, the same order runs without 1, 3 and 4:
records are sent and acknowledged, then the offset is committed through the consumer group
(``CommitOffsets``), then the stores are written: at-least-once, made exact by dedup.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.structs import TopicPartition

from workers.kafka.clients import new_producer
from workers.observability.metrics import COMMITS
from workers.stream.producing import KeyValue, send_grouped
from workers.stream.tables import StateTables, Writes

log = structlog.get_logger("pulse.stream")

Records = Mapping[tuple[str, int], Iterable[KeyValue]]
CommitOffsets = Callable[[dict[TopicPartition, int]], Awaitable[None]]

# An open transaction holds back what read-committed readers see on every partition it wrote to;
# this bounds how long a crashed worker's transaction can do so when nobody takes its partitions.
TRANSACTION_TIMEOUT_MS = 30_000


def transactional_id(group_id: str, topic: str, partition: int) -> str:
    return f"{group_id}-{topic}-{partition}"


@dataclass(frozen=True)
class ProducerOptions:
    bootstrap: str
    request_timeout_ms: int
    max_batch_size: int = 1_048_576
    max_request_size: int = 8_388_608


class Checkpoint:
    def __init__(
        self,
        state: StateTables,
        options: ProducerOptions,
        group_id: str,
        source_topic: str,
        *,
        transactional: bool,
        commit_offsets: CommitOffsets,
        make_producer: Callable[[str | None], AIOKafkaProducer] | None = None,
    ) -> None:
        self.state = state
        self.options = options
        self.group_id = group_id
        self.source_topic = source_topic
        self.transactional = transactional
        self._commit_offsets = commit_offsets
        self._make_producer = make_producer or self._new_producer
        self._producers: dict[int, AIOKafkaProducer] = {}
        self._shared: AIOKafkaProducer | None = None
        self._claimed: set[int] = set()
        # Claims come from the assignment signal and from the first batch of a partition, which
        # may race: two producers of one transactional ID would fence each other.
        self._claiming = asyncio.Lock()

    @property
    def claimed(self) -> set[int]:
        """The source partitions this worker holds now (claimed, not yet released)."""
        return set(self._claimed)

    def _new_producer(self, transactional_id: str | None) -> AIOKafkaProducer:
        options = self.options
        extra = {} if transactional_id is None else {"transactional_id": transactional_id}
        return new_producer(
            options.bootstrap,
            request_timeout_ms=options.request_timeout_ms,
            max_batch_size=options.max_batch_size,
            max_request_size=options.max_request_size,
            linger_ms=0,
            transaction_timeout_ms=TRANSACTION_TIMEOUT_MS,
            **extra,
        )

    async def claim(self, partitions: Iterable[int]) -> None:
        """Start the producers of newly assigned source partitions (fencing their last owners)."""
        async with self._claiming:
            await self._claim(partitions)

    async def _claim(self, partitions: Iterable[int]) -> None:
        partitions = set(partitions)
        if not self.transactional:
            if self._shared is None:
                self._shared = self._make_producer(None)
                await self._shared.start()
            self._claimed |= partitions
            return
        new = sorted(partitions - set(self._producers))
        producers = {
            partition: self._make_producer(
                transactional_id(self.group_id, self.source_topic, partition)
            )
            for partition in new
        }
        await asyncio.gather(*(producer.start() for producer in producers.values()))
        self._producers.update(producers)
        self._claimed |= partitions
        if new:
            log.info("transactional producers started", partitions=new)

    async def release(self, partitions: Iterable[int]) -> None:
        """Stop the producers of partitions this worker no longer owns."""
        async with self._claiming:
            await self._release(partitions)

    async def _release(self, partitions: Iterable[int]) -> None:
        self._claimed -= set(partitions)
        gone = [p for p in sorted(set(partitions)) if p in self._producers]
        await asyncio.gather(*(self._producers.pop(partition).stop() for partition in gone))
        if gone:
            log.info("transactional producers stopped", partitions=gone)

    async def close(self) -> None:
        await self.release(self._claimed | set(self._producers))
        if self._shared is not None:
            await self._shared.stop()
            self._shared = None

    def _producer(self, partition: int) -> AIOKafkaProducer:
        if partition not in self._claimed:
            raise RuntimeError(f"source partition {partition} is not assigned to this worker")
        if not self.transactional:
            assert self._shared is not None, "claim() first"
            return self._shared
        producer = self._producers.get(partition)
        if producer is None:
            raise RuntimeError(f"source partition {partition} is not assigned to this worker")
        return producer

    async def commit(
        self, partition: int, records: Records, writes: Writes, next_offset: int | None
    ) -> None:
        """Make one source partition's batch durable; the order is the module docstring's.

        ``next_offset`` is the source offset after the batch (None for work that consumed no
        source record, such as a chart refresh or a dedup purge).
        """
        producer = self._producer(partition)
        changelog = self.state.changelog_records(writes)
        offsets = {}
        if next_offset is not None:
            offsets = {TopicPartition(self.source_topic, partition): next_offset}
        if self.transactional:
            await producer.begin_transaction()
            try:
                newest = await send_grouped(producer, {**records, **changelog})
                if offsets:
                    await producer.send_offsets_to_transaction(offsets, self.group_id)
                await producer.commit_transaction()
            except BaseException:
                await _abort(producer)
                raise
        else:
            newest = await send_grouped(producer, {**records, **changelog})
            if offsets:
                await self._commit_offsets(offsets)
        self.state.apply(writes, newest)
        COMMITS.inc()


async def _abort(producer: AIOKafkaProducer) -> None:
    # After a fence or a timeout the abort fails too; the broker or the partition's next owner
    # aborts the transaction then, so the error that stopped the batch is the one to report.
    try:
        await asyncio.shield(producer.abort_transaction())
    except Exception as exc:
        log.warning("aborting the transaction failed", error=repr(exc))
