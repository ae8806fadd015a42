"""Reading chosen partitions of one topic between two positions, outside any consumer group.

Shared by ``pulse tail``, ``pulse replay``, ``pulse audit`` and the subscriber API. Nothing is
committed: these readers never disturb the stream workers' group.

The reader sees committed records only. A partition's end is its last stable offset, which a
commit marker may precede rather than a record, so a bounded read ends when the consumer's
position reaches the end, not when a record at end - 1 arrives. The demo's Tansu fallback
under-reports end offsets and answers time look-ups wrongly; ``kafka.broker_quirks`` handles
both there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError, OffsetOutOfRangeError

from workers.kafka import broker_quirks
from workers.kafka.access import KafkaAccessError, check_access
from workers.kafka.clients import new_consumer, partitions_of
from workers.kafka.partitioner import partition_for
from workers.tools.errors import (
    BrokerUnreachable,
    OffsetOutOfRange,
    ReadStalled,
    ToolError,
    TopicMissing,
)
from workers.tools.offsets import (
    AtOffset,
    AtTime,
    Beginning,
    End,
    PartitionWindow,
    Position,
    Verdict,
)

# A poll that brings nothing for this long means no more batches are in flight.
QUIET_SECONDS = 0.3
# How long a bounded read may go without any record before it is declared stuck: the records it
# waits for are known to exist, so a long silence means the broker is not delivering them.
STALL_SECONDS = 30.0
REQUEST_TIMEOUT_MS = 15_000
# Records handed out between two suspensions of a read, so that a cancellation lands.
YIELD_EVERY = 256


@dataclass(frozen=True)
class ReadRecord:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class PartitionBounds:
    """``beginning``: the first offset present; ``end``: one past the last (found by reading)."""

    partition: int
    beginning: int
    end: int

    def describe(self) -> str:
        if self.end <= self.beginning:
            return f"partition {self.partition} is empty (next offset {self.end})"
        return f"partition {self.partition} holds offsets {self.beginning}..{self.end - 1}"


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        # aiokafka's group-less coordinator re-raises the cancellation of its own helper task
        # when a consumer that was never assigned a partition stops; only a cancellation of
        # this task itself must go on.
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


class TopicReader:
    """An unassigned consumer for one topic; use as ``async with TopicReader(...) as reader``."""

    def __init__(self, bootstrap: str, topic: str, *, quiet_seconds: float = QUIET_SECONDS) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.quiet_ms = int(quiet_seconds * 1000)
        # auto_offset_reset="none": a position the broker refuses must surface as an error,
        # never as a silent jump to the start or the end.
        self._consumer = new_consumer(
            bootstrap,
            group_id=None,
            auto_offset_reset="none",
            request_timeout_ms=REQUEST_TIMEOUT_MS,
        )

    async def __aenter__(self) -> TopicReader:
        try:
            await check_access(self.bootstrap)
        except KafkaAccessError as exc:
            await self._consumer.stop()
            raise BrokerUnreachable(str(exc)) from None
        try:
            await self._consumer.start()
        except KafkaConnectionError as exc:
            await self._consumer.stop()
            raise BrokerUnreachable(
                f"cannot reach Kafka at {self.bootstrap} (check KAFKA_BOOTSTRAP_SERVERS): {exc}"
            ) from exc
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await stop_consumer(self._consumer)

    async def topic_names(self) -> set[str]:
        try:
            topics: set[str] = await self._consumer.topics()
        except KafkaError as exc:
            raise BrokerUnreachable(f"cannot list topics on {self.bootstrap}: {exc}") from exc
        return topics

    async def partition_count(self) -> int:
        topics = await self.topic_names()
        partitions: set[int] = set()
        if self.topic in topics:
            try:
                partitions = await partitions_of(self.bootstrap, self.topic)
            except KafkaError as exc:
                raise BrokerUnreachable(f"cannot read metadata on {self.bootstrap}: {exc}") from exc
        if not partitions:
            names = sorted(t for t in topics if not t.startswith("__"))
            known = ", ".join(names[:20]) or "none"
            if len(names) > 20:
                known += f" and {len(names) - 20} more"
            raise TopicMissing(
                f"topic {self.topic!r} does not exist on {self.bootstrap} (topics there: {known})"
            )
        return len(partitions)

    async def partition_of(self, key: str) -> int:
        """The partition the producers' default partitioner puts ``key`` in."""
        return partition_for(key.encode(), await self.partition_count())

    def _tp(self, partition: int) -> TopicPartition:
        return TopicPartition(self.topic, partition)

    async def bounds(self, partitions: Sequence[int]) -> dict[int, PartitionBounds]:
        """The first and past-the-end offsets of each partition (committed records only)."""
        tps = [self._tp(p) for p in partitions]
        begins = await self._consumer.beginning_offsets(tps)
        ends = await self._consumer.end_offsets(tps)
        if broker_quirks.on_tansu():
            try:
                ends = await broker_quirks.real_ends(
                    self._consumer,
                    ends,
                    begins,
                    time.monotonic() + STALL_SECONDS,
                    self._poll,
                    self.quiet_ms,
                )
            except TimeoutError as exc:
                raise ReadStalled(f"{exc} within {STALL_SECONDS:.0f} s") from exc
        return {
            tp.partition: PartitionBounds(tp.partition, begins[tp], max(begins[tp], ends[tp]))
            for tp in tps
        }

    async def start_offset_for_time(
        self, partition: int, at_ms: int, beginning: int, end: int
    ) -> int:
        """The offset of the first record stamped at or after ``at_ms`` (``end`` if none)."""
        tp = self._tp(partition)
        if broker_quirks.on_tansu():
            return await broker_quirks.start_offset_for_time(self._consumer, tp, at_ms, beginning)
        try:
            found = (await self._consumer.offsets_for_times({tp: at_ms}))[tp]
        except KafkaError as exc:
            raise BrokerUnreachable(f"{self.topic}: looking up a time failed: {exc}") from exc
        return end if found is None else max(beginning, int(found.offset))

    async def window(
        self,
        bounds: PartitionBounds,
        start: Position,
        to: Position | None = None,
        *,
        follow: bool = False,
    ) -> PartitionWindow:
        """The window of one partition for ``--from start --to to``, checked against bounds."""
        partition = bounds.partition
        from_ms: int | None = None
        match start:
            case Beginning():
                first = bounds.beginning
            case End():
                first = bounds.end
            case AtOffset(offset):
                if not bounds.beginning <= offset <= bounds.end:
                    raise OffsetOutOfRange(
                        f"offset {offset} is out of range on {self.topic}: {bounds.describe()}"
                    )
                first = offset
            case AtTime() as at:
                first = await self.start_offset_for_time(
                    partition, at.ms, bounds.beginning, bounds.end
                )
                from_ms = at.ms
        to_offset: int | None = None
        to_ms: int | None = None
        match to:
            case None | End():
                pass
            case AtOffset(offset):
                if offset >= bounds.end or offset < bounds.beginning:
                    raise OffsetOutOfRange(
                        f"--to offset {offset} is out of range on {self.topic}: {bounds.describe()}"
                    )
                if offset < first:
                    raise ToolError(f"--to offset {offset} comes before --from {start}")
                to_offset = offset
            case AtTime() as at:
                to_ms = at.ms
            case Beginning():
                raise ToolError("--to beginning selects nothing; use offset:N, time:ISO or end")
        return PartitionWindow(
            start=first,
            end=None if follow else bounds.end,
            from_ms=from_ms,
            to_offset=to_offset,
            to_ms=to_ms,
        )

    async def read(
        self, windows: dict[int, PartitionWindow], key: bytes | None = None
    ) -> AsyncIterator[ReadRecord]:
        """Records inside the windows (only those keyed ``key`` if given), partition by partition
        in offset order; ends when every window is done, never if one follows."""
        active = {self._tp(p): w for p, w in windows.items() if not w.done}
        if not active:
            # Never assign an empty set: aiokafka's consumer then hangs when stopped.
            return
        self._consumer.assign(list(active))
        for tp, w in active.items():
            self._consumer.seek(tp, w.start)
        bounded = all(w.end is not None for w in active.values())
        idle_since = time.monotonic()
        while active:
            batch = await self._poll(list(active), 500)
            if batch:
                idle_since = time.monotonic()
            elif bounded and time.monotonic() - idle_since > STALL_SECONDS:
                raise ReadStalled(
                    f"{self.topic}: no records for {STALL_SECONDS:.0f} s although the partitions "
                    "hold more; is the broker healthy?"
                )
            for tp, records in batch.items():
                current = active.get(tp)
                if current is None:
                    continue
                for index, r in enumerate(records, 1):
                    if index % YIELD_EVERY == 0:
                        # A fetch can hold thousands of records and printing them never
                        # suspends: without this, Ctrl-C waited for the whole fetch (seconds
                        # of pretty lines).
                        await asyncio.sleep(0)
                    verdict = current.accept(r.offset, r.timestamp)
                    if verdict is Verdict.KEEP and (key is None or r.key == key):
                        yield ReadRecord(
                            tp.topic, tp.partition, r.offset, r.timestamp, r.key, r.value
                        )
                    if current.done:
                        break
            for tp, current in list(active.items()):
                if not current.done:
                    # The records before a bounded window's end may all have come, with a
                    # commit marker or aborted records left: the position says so.
                    current.reached(await self._consumer.position(tp))
                if current.done:
                    del active[tp]
                    self._consumer.pause(tp)

    async def _poll(
        self, tps: Sequence[TopicPartition], timeout_ms: int
    ) -> dict[TopicPartition, list[Any]]:
        try:
            batch: dict[TopicPartition, list[Any]] = await self._consumer.getmany(
                *tps, timeout_ms=timeout_ms
            )
        except OffsetOutOfRangeError as exc:
            raise OffsetOutOfRange(f"{self.topic}: the broker refused the position: {exc}") from exc
        except KafkaConnectionError as exc:
            raise BrokerUnreachable(
                f"lost the connection to Kafka at {self.bootstrap}: {exc}"
            ) from exc
        return batch
