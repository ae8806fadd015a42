"""The one module that reaches into Faust's (and its aiokafka consumer's) internals.

Pinned to the faust-streaming and aiokafka versions in ``pyproject.toml``;
``tests/unit/stream/test_faust_adapter.py`` fails when the internals used here change. Each
change to Faust's behaviour, and why:

- Transactions: the worker's consumer reads committed records only (Faust does that only in its
  own exactly-once mode), so a changelog restore never applies an aborted write; its producer is
  idempotent. Faust commits no source offsets: ``checkpoint`` commits them in each batch's
  transaction.
- Restore end: Faust restores a changelog until it has read the record just before the end
  offset. A transaction's commit marker takes an offset but is no record, so the end a restore
  can reach is the offset after the last record (``kafka.end_offsets``); with Faust's own end the
  restore never finishes.
- Runs: Faust hands every record to its agent on its own (two tasks for the flow-control wait, a
  channel put, an event, stream processors, an ack), which was most of the worker's time
  (``bench/RESULTS.md``). ``supabase_changes`` records are delivered as one ``SourceRun`` per
  partition and fetch instead: the consecutive records of that partition in order. Other topics
  (changelogs read by restores and standbys) keep Faust's path.
- Gaps: Faust counts a jump in a partition's offsets as a "gap" acknowledged already.
  ``supabase_changes`` is neither compacted nor transactional, so a jump there only comes from a
  fetch race around a rebalance, which ``stream.continuity`` repairs; nothing is counted here.
- Seeks: aiokafka seeks back only partitions with a committed offset above 0, so after a
  rebalance a partition with nothing committed is sought to its log start here.
- Fetch wait: Faust hard-codes ``fetch_max_wait_ms=1500``; it is a setting here
  (``PULSE_FETCH_MAX_WAIT_MS``).
- Start: Faust's table manager waits a second before it starts recovery, for tables declared
  late; ours are declared before the app starts, so ``TableManager`` does not wait.
- Restore: Faust restores a changelog record by record (a queue, an event, an offset check per
  record), and its standbys catch up the same way, on the loop that delivers the source records
  too. Its recovery (``Recovery``) first lets the app restore the assigned active and standby
  table partitions in fetched batches (``store_guard.StoreGuard``) and then starts from the
  offsets that left in the stores, so it finds little or nothing left to read. This runs in
  Faust's recovery task, not in the rebalance callback: aiokafka sends no heartbeats during that
  callback, and a restore longer than the session timeout there cost the worker its membership.
- Standbys: Faust applies a standby's changelog records one at a time on the same path (a
  message, an event and two tasks per record, a queue, buffers of a thousand), which cost the
  worker more CPU than its own processing when two workers kept standbys of each other
  (``bench/RESULTS.md``). Once Faust's recovery has set where a standby partition's reading
  starts, each fetch of it is written by the app instead (``write_standby``): its records past
  that point in one RocksDB write batch with the offset of the fetch's last record, and Faust's
  standby offset moved there, so its queue and buffers never see them.
- Rejoin: a worker whose commit was fenced releases the partition and asks its group for a new
  assignment (``Consumer.rejoin_group``); aiokafka has no public call for that, so the adapter
  sets the coordinator's rejoin request, as aiokafka does itself when the subscription changes.
- Recovered generation: Faust's recovery of one rebalance can finish after the next one has
  begun and resume the flow, so source runs reach the agent while the new assignment's stores
  are being restored. The recovery records the generation it completed
  (``PulseApp.recovered_generation``); the agent drops runs of a generation not recovered yet,
  which the recovery's seek to the committed offsets fetches again.
- Stores: the worker reads and writes a table partition's RocksDB directly (``store_db``),
  because Faust's access path is tied to the current event, which a batch does not have.
- Own changelogs: once the worker writes a table partition's stores itself (from its first
  batch in an assignment, ``stream.store_guard``), the changelog records of that partition are
  its own commits, which ``checkpoint`` has written to the stores already. Faust's recovery
  service still applies such records when its consumer hands them over, buffered and late, so
  an older record could land over a newer batch's value, which the next batch would read. The
  store (``rocksdb_memory.Store.apply_changelog_batch``) skips them (``not_written_here``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence, Set
from typing import Any

import faust
import structlog
from aiokafka.structs import TopicPartition
from faust.exceptions import ConsumerNotStarted
from faust.tables import manager as faust_tables
from faust.tables import recovery as faust_recovery
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types.tuples import TP, ConsumerMessage, ack_lock
from mode.utils.futures import notify

from workers.kafka import broker_quirks
from workers.kafka.changelog_reading import ChangelogRecord, records_in_range
from workers.kafka.end_offsets import changelog_ends
from workers.observability.metrics import CHANGELOG_EVENTS_SKIPPED

log = structlog.get_logger("pulse.stream")

# The part of Faust's broker request timeout the batched restore of an assignment may take.
RESTORE_SHARE = 0.5


def not_written_here(events: Iterable[Any], written: Set[int]) -> list[Any]:
    """The changelog events of a restore or standby batch that Faust may apply: those of table
    partitions this worker does not write itself in the current assignment."""
    kept: list[Any] = []
    skipped = 0
    for event in events:
        if event.message.partition in written:
            skipped += 1
        else:
            kept.append(event)
    if skipped:
        CHANGELOG_EVENTS_SKIPPED.inc(skipped)
    return kept


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
            # aiokafka reads these when the consumer starts, after Faust built it. Faust reads
            # committed records only under its own exactly-once mode; our transactions
            # (``checkpoint``) need the same for the changelogs a restore reads.
            consumer._fetch_max_wait_ms = fetch_max_wait_ms
            consumer._isolation_level = broker_quirks.consumer_settings(
                {"isolation_level": "read_committed"}
            )["isolation_level"]
            return consumer

    class Consumer(faust_aiokafka.Consumer):
        def _new_consumer_thread(self) -> ConsumerThread:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

        async def perform_seek(self) -> None:
            await super().perform_seek()
            sources = [tp for tp in self.assignment() if tp.topic == source_topic]
            if not sources:
                return
            starts = await self.earliest_offsets(*sources)
            # aiokafka seeks back only partitions with a committed offset above 0. Runs fetched
            # before a rebalance are dropped as of an old generation, and with no seek they were
            # never fetched again: the partition stalled once idle. (On the consumer's thread:
            # its fetcher may be running.)
            unseeked = {tp: starts[tp] for tp in sources if self._committed_offset[tp] is None}
            if unseeked:
                await self.seek_wait(unseeked)

        async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
            # Before Faust reads a restore's end offsets and the committed offsets: starting a
            # source partition's transactional producer (``checkpoint``) waits until its last
            # owner's transaction is complete, so neither moves after they are read.
            app: Any = self.app
            claim = app.claim_sources
            if claim is not None:
                await claim(
                    {tp.partition for tp in assigned if tp.topic == source_topic}, generation_id
                )
            await super().on_partitions_assigned(assigned, generation_id)

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

        async def rejoin_group(self) -> None:
            """Ask the group coordinator for a new assignment, as a subscription change does
            (on the consumer's thread, whose loop owns the coordinator)."""

            async def rejoin(consumer: Any) -> None:
                consumer._coordinator.request_rejoin()

            await self._thread.call_thread(rejoin, self._thread._ensure_consumer())

        def _new_offset(self, tp: TP) -> int | None:
            # The source partitions' offsets are committed by ``checkpoint`` alone, in the
            # batch's transaction; Faust commits none of them.
            if tp.topic == source_topic:
                return None
            return super()._new_offset(tp)

        async def commit_source_offsets(self, offsets: Mapping[TopicPartition, int]) -> None:
            """Commit source offsets through the group, outside any transaction (Tansu only)."""
            await self._thread.commit(
                {TP(tp.topic, tp.partition): offset for tp, offset in offsets.items()}
            )

        async def _add_gap(self, tp: Any, offset_from: int, offset_to: int) -> None:
            # Faust sees a jump between the last offsets of two runs; real holes are the
            # agent's business (``continuity``), and none is ever counted acknowledged.
            return None

        async def highwaters(self, *partitions: TP) -> Mapping[TP, int]:
            """Faust's end offsets, with those of changelogs after their last data record.

            Faust restores a changelog until it has read the record before the end offset. Each
            committed transaction ends with a commit marker, which takes an offset but is no
            record, so the end offset a restore can reach is the one after the last record.
            """
            reported = dict(await super().highwaters(*partitions))
            changelogs = {
                TopicPartition(tp.topic, tp.partition): end
                for tp, end in reported.items()
                if tp.topic != source_topic and end is not None
            }
            if changelogs:
                for tp, end in (await changelog_ends(bootstrap, changelogs)).items():
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
            tables: Any = self.app.tables
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
                elif tables.recovery.read_standby(tp, tp_records):
                    # Faust's loop moves this as it hands each record on; none was handed on.
                    self._read_offset[tp] = tp_records[-1].offset
                else:
                    for record in tp_records:
                        yield tp, self._to_message(tp, record)

        def ack(self, message: Any) -> bool:
            if not isinstance(message, SourceRun):
                return bool(super().ack(message))
            # Faust's bookkeeping of messages in flight (it waits for them before a rebalance);
            # no offsets are collected for a commit, which ``checkpoint`` does instead.
            with ack_lock:
                if message.acked:
                    return False
                message.acked = True
                self._unacked_messages.discard(message)
                notify(self._waiting_for_ack)
                return True

    class Producer(faust_aiokafka.Producer):
        def _settings_extra(self) -> Mapping[str, Any]:
            return broker_quirks.producer_settings({"acks": "all", "enable_idempotence": True})

    class Transport(faust_aiokafka.Transport):
        pass

    Transport.Producer = Producer

    Transport.Consumer = Consumer
    return Transport


class Recovery(faust_recovery.Recovery):
    """Faust's recovery, with the app's batched restore first (``restore_stores``).

    Faust reads each changelog's end (``_build_highwaters``) and where each store's restore
    (active) or reading (standby) starts (``_build_offsets``): actives in that order, standbys in
    the other. The batched restore runs before the first of the two and reads the ends itself,
    which then serve as Faust's. Faust bounds each step by its broker request timeout (past it,
    the recovery service stops), so the batched restore gets a part of it and leaves the rest
    to Faust.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The last committed record of each changelog partition the batched restores of the
        # current recovery read (None: none); every recovery reads the actives' first.
        self._lasts: dict[TP, int | None] = {}

    async def _restore(self, tps: set[TP], active: bool) -> None:
        app: Any = self.app
        restore = app.restore_stores
        if not tps or restore is None:
            return
        budget_s = RESTORE_SHARE * float(app.conf.broker_request_timeout)
        lasts = await restore({tp.partition for tp in tps}, budget_s, active)
        if lasts is not None:
            for tp, last in lasts.items():
                if TP(tp.topic, tp.partition) in tps:
                    self._lasts[TP(tp.topic, tp.partition)] = last

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        """Faust's end of a recovery, which seeks the source partitions to their committed
        offsets and resumes the flow; first it records the generation it completed, unless a
        newer one has begun (Faust then returns before the seek)."""
        app: Any = self.app
        if app.consumer_generation_id == generation_id:
            app.recovered_generation = generation_id
        await super().on_recovery_completed(generation_id)

    def read_standby(self, tp: TP, records: Sequence[Any]) -> bool:
        """Write one fetch of a standby changelog partition into its store, in one write batch
        with the offset of the fetch's last record; False: not a standby being read (Faust's
        path takes the records).

        Only records past Faust's standby offset are written, as Faust's own path does: it
        starts at the store's persisted offset when the recovery seeks the partition there.
        """
        app: Any = self.app
        write = app.write_standby
        if write is None or tp not in self.standby_tps or tp.partition in app.written_partitions:
            return False
        seen = self.standby_offsets.get(tp)
        last = records[-1].offset
        if seen is not None and last <= seen:
            return True
        first = 0 if seen is None else seen + 1
        write(self.tp_to_table[tp].name, tp.partition, records_in_range(records, first, last), last)
        self.standby_offsets[tp] = last
        if not self.tables.standbys_ready and not self.standby_remaining_total():
            self.tables.on_standbys_ready()
        return True

    async def _build_highwaters(
        self, consumer: Any, tps: set[TP], destination: Any, title: str
    ) -> None:
        if title == "active":
            self._lasts = {}
            await self._restore(tps, active=True)
        if tps and tps <= self._lasts.keys():
            # Faust's highwater is the offset of a changelog's last record (-1: none).
            destination.clear()
            destination.update(
                {tp: -1 if self._lasts[tp] is None else self._lasts[tp] for tp in tps}
            )
            return
        await super()._build_highwaters(consumer, tps, destination, title)

    async def _build_offsets(
        self, consumer: Any, tps: set[TP], destination: Any, title: str
    ) -> None:
        if title == "standby":
            await self._restore(tps, active=False)
        restored = tps & self._lasts.keys()
        for tp in restored:
            offset = self.tp_to_table[tp].persisted_offset(tp)
            destination[tp] = -1 if offset is None else offset
        if restored != tps:
            # Faust also reads each changelog's first offset, for stores behind a log start that
            # moved; a restored store is past it already.
            await super()._build_offsets(consumer, tps, destination, title)


class TableManager(faust_tables.TableManager):
    @property
    def recovery(self) -> faust_recovery.Recovery:
        if self._recovery is None:
            self._recovery = Recovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery

    async def on_start(self) -> None:
        # Faust waits a second first, for tables declared while the app starts; ours are all
        # declared before it starts, and that second delayed every restart's first batch.
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()


class PulseApp(faust.App):
    """A Faust app with the consumer above (its attributes set before the first topic)."""

    fetch_max_wait_ms: int = 1500
    source_topic: str = ""
    bootstrap_servers: str = ""
    # Called with the source partitions and generation of each new assignment, before Faust
    # acts on it.
    claim_sources: Callable[[set[int], int], Awaitable[None]] | None = None
    # Called by the recovery with the assignment's active (or standby) table partitions, a time
    # budget and whether they are the active ones, before Faust reads where each store stands;
    # returns each changelog partition's last committed record (None: the restore failed).
    restore_stores: (
        Callable[[set[int], float, bool], Awaitable[Mapping[TopicPartition, int | None] | None]]
        | None
    ) = None
    # Writes one fetch of a standby changelog partition into the table's store: (table name,
    # partition, the records to apply, the offset to hold) in one write batch.
    write_standby: Callable[[str, int, Sequence[ChangelogRecord], int], None] | None = None
    # The table partitions whose stores the worker writes itself in this assignment
    # (``stream.store_guard`` keeps it); Faust's restores and standbys leave them alone.
    written_partitions: set[int]
    # The consumer generation whose recovery completed last (``Recovery.on_recovery_completed``).
    recovered_generation: int | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.written_partitions = set()
        self.recovered_generation = None
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> Any:
        transport = pulse_transport(
            self.fetch_max_wait_ms, self.source_topic, self.bootstrap_servers
        )
        return transport(self.conf.broker_consumer, self)

    async def commit_source_offsets(self, offsets: Mapping[TopicPartition, int]) -> None:
        consumer: Any = self.consumer
        await consumer.commit_source_offsets(offsets)


def store_db(table: Any, partition: int) -> Any:
    """The RocksDB (rocksdict) of one partition of a Faust table, opened on first use."""
    return table.data._db_for_partition(partition)
