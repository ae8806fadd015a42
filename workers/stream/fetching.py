"""Faust's Kafka consumer: a configurable fetch wait, source records in runs, no skipped offsets.

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

Commits: a source partition's committed offset moves only past records acknowledged without a
hole from the next record to process (``commit_offsets``), where Faust's own rule can skip an
unacknowledged head. Whenever Faust seeks to the committed offsets, a partition with nothing
committed yet is sought to its log start, which is also where its commits must begin.

End offsets: Faust's changelog recovery reads each changelog partition up to its reported end
offset, which the bundled broker under-reports after a multi-record batch (it names the last
batch's base offset + 1), so a restored table would miss the tail of the last write. The
consumer corrects the changelogs' end offsets (``kafka.end_offsets``) before Faust uses them.

Runs: Faust hands every record to its agent on its own (two tasks for the flow-control wait, a
channel put, an event, stream processors, an ack), about 200 us of CPU per message, which was
most of the worker's time (profiled with py-spy). ``supabase_changes`` records are instead
delivered as one ``SourceRun`` per partition and fetch: the consecutive records of that partition
in order, acknowledged together once the agent is done with them. Other topics (changelogs read
by recovery and standbys) keep Faust's record-by-record path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import faust
import structlog
from aiokafka.structs import TopicPartition
from faust.exceptions import ConsumerNotStarted
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types.tuples import TP, ConsumerMessage, ack_lock
from mode.utils.futures import notify

from workers.kafka.end_offsets import true_end_offsets
from workers.stream.commit_offsets import committable_offset, resume_offset

log = structlog.get_logger("pulse.stream")


class SourceRun(ConsumerMessage):
    """Consecutive records of one partition, from one fetch, as one Faust message.

    ``offset`` is the last record's, so Faust's read-offset bookkeeping moves past the run;
    ``first_offset`` is the first's; ``values`` are the records' values in offset order.
    """

    __slots__ = ("first_offset", "values")

    def __init__(self, tp: TP, records: Sequence[Any], generation_id: int | None) -> None:
        last = records[-1]
        size = sum(len(record.value or b"") for record in records)
        super().__init__(
            tp.topic,
            tp.partition,
            last.offset,
            last.timestamp / 1000.0 if last.timestamp is not None else 0.0,
            last.timestamp_type,
            None,
            None,
            None,
            None,
            0,
            size,
            tp,
            generation_id=generation_id,
        )
        self.first_offset: int = records[0].offset
        self.values: list[bytes] = [record.value for record in records]


def pulse_transport(
    fetch_max_wait_ms: int, source_topic: str, bootstrap: str
) -> type[faust_aiokafka.Transport]:
    class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            # aiokafka reads this when the consumer starts, after Faust built it.
            consumer._fetch_max_wait_ms = fetch_max_wait_ms
            return consumer

    class Consumer(faust_aiokafka.Consumer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._log_starts: dict[TP, int] = {}

        def _new_consumer_thread(self) -> ConsumerThread:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

        async def perform_seek(self) -> None:
            await super().perform_seek()
            sources = [tp for tp in self.assignment() if tp.topic == source_topic]
            if not sources:
                return
            starts = await self.earliest_offsets(*sources)
            self._log_starts.update(starts)
            # aiokafka seeks back only partitions with a committed offset above 0. Runs fetched
            # before a rebalance are dropped as of an old generation, and with no seek they were
            # never fetched again: the partition stalled once idle. (On the consumer's thread:
            # its fetcher may be running.)
            unseeked = {tp: starts[tp] for tp in sources if self._committed_offset[tp] is None}
            if unseeked:
                await self.seek_wait(unseeked)

        def resume_offsets(self) -> dict[int, int | None]:
            """Per assigned source partition, the next record to process (None: not known)."""
            return {
                tp.partition: self._resume_offset(tp)
                for tp in self.assignment()
                if tp.topic == source_topic
            }

        def fetch_positions(self) -> dict[int, int | None]:
            """Per assigned source partition, the offset its next fetch starts from (None: not
            known, e.g. while a rebalance is under way). Read from the consumer's local state."""
            positions: dict[int, int | None] = {}
            try:
                subscription = self._thread._ensure_consumer()._subscription.subscription
            except ConsumerNotStarted:
                return positions
            assignment = subscription.assignment if subscription is not None else None
            if assignment is None:
                return positions
            for tp in assignment.tps:
                if tp.topic != source_topic:
                    continue
                state = assignment.state_value(tp)
                valid = state is not None and state.has_valid_position
                positions[tp.partition] = state.position if valid else None
            return positions

        async def fetch_again(self, offsets: Mapping[int, int]) -> None:
            """Seek source partitions back to ``offsets``, so their records are fetched again."""
            await self.seek_wait({TP(source_topic, p): offset for p, offset in offsets.items()})

        def _resume_offset(self, tp: TP) -> int | None:
            return resume_offset(self._committed_offset[tp], self._log_starts.get(tp))

        def _new_offset(self, tp: TP) -> int | None:
            if tp.topic != source_topic:
                return super()._new_offset(tp)
            start = self._resume_offset(tp)
            acked = self._acked[tp]
            if start is None or not acked:
                return None
            end = committable_offset(acked, start)
            done = [offset for offset in acked if offset < end]
            if done:
                self._acked_index[tp].difference_update(done)
                acked[:] = [offset for offset in acked if offset >= end]
            return end if end > start else None

        async def _add_gap(self, tp: Any, offset_from: int, offset_to: int) -> None:
            # Faust sees a jump between the last offsets of two runs; real holes are the
            # agent's business (``continuity``), and none is ever counted acknowledged.
            return None

        async def highwaters(self, *partitions: TP) -> Mapping[TP, int]:
            """Faust's end offsets, with those of changelogs counting every record."""
            reported = dict(await super().highwaters(*partitions))
            changelogs = {
                TopicPartition(tp.topic, tp.partition): end
                for tp, end in reported.items()
                if tp.topic != source_topic and end is not None
            }
            if changelogs:
                for tp, end in (await true_end_offsets(bootstrap, changelogs)).items():
                    reported[TP(tp.topic, tp.partition)] = end
            return reported

        async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:  # noqa: ASYNC109 (Faust's signature)
            """Faust's ``getmany``, with one ``SourceRun`` per source partition and fetch."""
            records, active = await self._wait_next_records(timeout)
            if records is None or self.should_stop:
                return
            if not self.flow_active:
                try:
                    await self.perform_seek()
                except Exception as exc:
                    log.warning("seek while flow is paused failed", error=repr(exc))
                return
            generation_id = self.app.consumer_generation_id
            for tp, tp_records in records.items():
                if not self.flow_active or self.app.consumer_generation_id != generation_id:
                    break
                if not tp_records:
                    continue
                if active is not None and tp not in active and tp not in self._buffered_partitions:
                    continue
                self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
                if tp.topic == source_topic:
                    yield tp, SourceRun(tp, tp_records, generation_id)
                else:
                    for record in tp_records:
                        yield tp, self._to_message(tp, record)

        def ack(self, message: Any) -> bool:
            if not isinstance(message, SourceRun):
                return bool(super().ack(message))
            # Faust's ``ack`` for every offset of the run, under the same lock.
            with ack_lock:
                if message.acked:
                    return False
                message.acked = True
                self._unacked_messages.discard(message)
                try:
                    tp = message.tp
                    committed = self._committed_offset[tp]
                    start = message.first_offset
                    if committed is not None:
                        start = max(start, committed)
                    acked_index = self._acked_index[tp]
                    new = [o for o in range(start, message.offset + 1) if o not in acked_index]
                    acked_index.update(new)
                    self._acked[tp].extend(new)
                    self._n_acked += len(new)
                    return bool(new)
                finally:
                    notify(self._waiting_for_ack)

    class Transport(faust_aiokafka.Transport):
        pass

    Transport.Consumer = Consumer
    return Transport


class PulseApp(faust.App):
    """A Faust app with the consumer above (its attributes set before the first topic)."""

    fetch_max_wait_ms: int = 1500
    source_topic: str = ""
    bootstrap_servers: str = ""

    def _new_transport(self) -> Any:
        transport = pulse_transport(
            self.fetch_max_wait_ms, self.source_topic, self.bootstrap_servers
        )
        return transport(self.conf.broker_consumer, self)
