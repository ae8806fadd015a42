"""The agent and timers: batches of ``supabase_changes`` in, ``dashboard_updates`` and rejects out.

Per batch, for each source partition in it (the partitions side by side, each in offset order):
1. compute everything (``processing``), no I/O except the Postgres session lookup;
2. hand the updates, rejects, state writes (the partition's committed tally of outcomes among
   them, ``accounting``) and the source offset after the batch to
   ``checkpoint.Checkpoint.commit``, which makes them durable together (one Kafka transaction,
   then the local stores) or not at all.
A crash at any point leaves the last committed batch as the state of record: the next owner of
the partition reads on from its committed offset with tables restored from the committed
changelog, and publishes nothing twice.

A batch that raises is never committed. Where the processing raised, the failing message is
isolated and quarantined (``isolation``). A commit refused because the partition's producer was
fenced means another worker owns the partition now: the work is dropped uncommitted, the
partition released and the group asked for a new assignment (``StreamRunner.commit``), and the
worker goes on with its other partitions. Anything else (the broker not answering within
``PULSE_PRODUCER_REQUEST_TIMEOUT_S``, a store error) stops the worker: its open transaction is
aborted, and the worker that takes the partitions over processes the batch again.

Agent concurrency stays 1: above 1 Faust may hand out a partition's records out of order
(faust #606). Timers (chart refresh, dedup purge) take the lock of the partition they work on, as
the agent does, so they never interleave with a batch's read-compute-commit cycle there; they
commit through the same checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import faust
import orjson
import psycopg
import structlog
from aiokafka.errors import KafkaError, ProducerFenced
from aiokafka.structs import TopicPartition

from workers.kafka.changelog_reading import (
    last_record_offsets,
    read_changelog,
    read_changelog_batches,
)
from workers.kafka.group_offsets import resume_offsets
from workers.kafka.partitioner import partition_for
from workers.kpis.definitions import BUCKET_MINUTES
from workers.observability.metrics import (
    COMMIT_TO_PUBLISH,
    DEDUP_HITS,
    DEDUP_TABLE_SIZE,
    FENCED_COMMITS,
    RECORDS_IN,
    RECORDS_OUT,
    REJECTS,
    SOURCE_REDELIVERIES,
    SOURCE_REFETCHES,
    SOURCE_REREADS,
    STALE_CHANGES,
)
from workers.settings import KafkaSettings
from workers.stream.checkpoint import Checkpoint, Records
from workers.stream.processing import (
    DAYS,
    DEDUP,
    TABLES,
    BatchOutput,
    BatchProcessor,
    Processor,
    SessionLookup,
    failed_message_rejects,
)
from workers.stream.producing import KeyValue
from workers.stream.reread import read_range
from workers.stream.rules import updates as build
from workers.stream.rules.accounting import TALLY_KEY, Tally
from workers.stream.rules.continuity import CommittedPositions, OffsetContinuity, known_offsets
from workers.stream.rules.dedup import expired_ids, newest_seen
from workers.stream.rules.isolation import ProcessingFailed, handle_isolating
from workers.stream.rules.kpis import DayAggregate
from workers.stream.rules.sequencing import SiteSequencer
from workers.stream.rules.stalled_fetch import StalledFetchCheck
from workers.stream.settings import StreamSettings
from workers.stream.store_guard import StoreGuard
from workers.stream.tables import StateTables, Writes

log = structlog.get_logger("pulse.stream")

PURGE_SCAN_CHUNK = 20_000


@dataclass(frozen=True)
class SourceRecord:
    partition: int
    offset: int
    value: bytes


def in_offset_order(records: list[SourceRecord]) -> list[SourceRecord]:
    """One partition's records by offset, each once.

    A hole read ahead of a batch's runs may lie between two of them (with several runs of one
    partition in a batch) or overlap one; committing a chunk that ends below an earlier one would
    move the committed offset back.
    """
    by_offset = {record.offset: record for record in records}
    return [by_offset[offset] for offset in sorted(by_offset)]


def byte_bounded(messages: list[SourceRecord], max_bytes: int) -> Iterator[list[SourceRecord]]:
    """Consecutive runs of messages of at most ``max_bytes`` (at least one message each).

    Everything a batch decodes and produces stays in memory until it is committed, and Python
    keeps the peak: bounding a processing round by bytes (about changes) bounds the worker's RSS
    whether envelopes hold 5 changes or 500.
    """
    chunk: list[SourceRecord] = []
    size = 0
    for message in messages:
        if chunk and size + len(message.value) > max_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append(message)
        size += len(message.value)
    if chunk:
        yield chunk


class StreamRunner:
    def __init__(
        self,
        app: faust.App,
        state: StateTables,
        checkpoint: Checkpoint,
        kafka: KafkaSettings,
        settings: StreamSettings,
        lookup: SessionLookup,
        processor: Processor | None = None,
    ) -> None:
        self.app = app
        self.state = state
        self.checkpoint = checkpoint
        self.kafka = kafka
        self.settings = settings
        self.sequencer = SiteSequencer()
        self.processor: Processor = processor or BatchProcessor(
            lookup,
            sequencer=self.sequencer,
            freshness_interval_s=settings.freshness_interval_s,
            max_pending=settings.max_pending_events,
        )
        # One per source partition: a batch's partitions are processed and committed side by
        # side, each in order, and the timers' work on a partition waits for its batch.
        self.locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._partitions: dict[str, int] = {}
        self.newest_commit_ms: dict[int, int] = {}
        self.committed = CommittedPositions()
        # The generation of the current assignment; None from a revocation until the next one.
        self.generation: int | None = None
        self.dirty_days: set[tuple[int, str, str]] = set()
        bootstrap = kafka.bootstrap_servers
        assert bootstrap
        self.guard = StoreGuard(
            state,
            TABLES,
            lambda tps: last_record_offsets(bootstrap, tps),
            lambda tp, first, last: read_changelog(bootstrap, tp, first, last),
            lambda ranges, apply, deadline: read_changelog_batches(
                bootstrap, ranges, apply, deadline
            ),
            written=getattr(app, "written_partitions", None),
        )
        state.on_applied = self.guard.applied
        self.continuity = OffsetContinuity()
        self.stalled_fetch = StalledFetchCheck()
        self.handled_batches = 0
        self.busy = False
        self.totals = {"messages": 0, "changes": 0, "duplicates": 0, "rejected": 0, "updates": 0}

    async def claim_sources(self, mine: set[int], generation: int) -> None:
        """A new assignment: stop the producers of partitions gone, start those of new ones
        (which fences their previous owners), then learn where each partition resumes.

        From now on only runs fetched in ``generation`` are processed (``owns``).

        Read only now: starting a partition's producer waits until its last owner's transaction
        is complete, and nobody else commits its offsets while this worker holds it, so these
        offsets are final. (Faust's own reading of them is in flight at the same time as the
        first batches, which it delivers before it seeks.)
        """
        self.generation = generation
        self.guard.forget()
        await self.release(self.checkpoint.claimed - mine)
        await self.checkpoint.claim(mine)
        assert self.kafka.bootstrap_servers
        try:
            resume = await resume_offsets(
                self.kafka.bootstrap_servers,
                self.checkpoint.group_id,
                self.kafka.changes_topic,
                mine,
            )
        except (KafkaError, OSError) as exc:
            # Rare: the producers' start just reached the broker. Each partition's first run
            # then sets where it continues, and a hole before that run would go unnoticed.
            log.warning("resume offsets not readable", error=repr(exc))
            resume = {}
        self.continuity.reset(resume)
        # Faust may have read these offsets before the fence, while the last owner's final
        # transaction was still open, and then deliver runs from below them: those records
        # are committed, so they are skipped rather than processed a second time.
        for partition, offset in known_offsets(resume).items():
            self.committed.advance(partition, offset)

    async def restore_stores(
        self, partitions: set[int], budget_s: float, active: bool
    ) -> dict[TopicPartition, int | None] | None:
        """Bring the stores of the assignment's active (or standby) table partitions to their
        changelogs' ends in fetched batches, for at most ``budget_s``
        (``store_guard.StoreGuard.restore_assigned``, ``restore``); Faust's restore, which
        applies records one by one, finishes what is left after that. Returns the offset of
        each changelog partition's last committed record, or None if the restore failed.

        Called by Faust's recovery (``faust_adapter.Recovery``), once ``claim_sources`` has
        fenced the active partitions' last owners. Standbys are restored to the records their
        owners have committed so far, from which Faust's standby reading goes on. If a restore
        fails, Faust's and the check at each active partition's first batch remain.
        """
        generation = self.generation
        if active:
            # Only the claimed partitions' changelogs have stopped moving.
            partitions = partitions & self.checkpoint.claimed
        started = time.monotonic()
        deadline = started + budget_s
        try:
            if active:
                # No batch runs meanwhile: runs wait for this generation's recovery (``recovered``).
                restored = await self.guard.restore_assigned(
                    partitions, deadline, lambda: self.generation == generation
                )
            else:
                restored = await self.guard.restore(partitions, deadline)
        except Exception as exc:
            log.warning("restoring the stores in batches failed", active=active, error=repr(exc))
            return None
        log.info(
            "stores restored in batches",
            active=active,
            partitions=sorted(partitions),
            records=restored.applied,
            unfinished=len(restored.unfinished),
            seconds=round(time.monotonic() - started, 3),
        )
        return restored.lasts

    async def revoke(self, partitions: set[int]) -> None:
        """The group takes partitions back: no run fetched before is processed from now on."""
        self.generation = None
        self.guard.forget()
        await self.release(partitions)

    def recovered(self, generation: int) -> bool:
        """Whether Faust's recovery of ``generation`` has completed (its stores restored, its
        source partitions sought to their committed offsets)."""
        app: Any = self.app
        recovered: int | None = app.recovered_generation
        return recovered == generation

    def owns(self, partition: int, generation: int) -> bool:
        """Whether a run of ``partition`` fetched in ``generation`` may be processed now.

        Faust's ``take_events`` hands over the runs it gathered before a rebalance after it, and
        a run processed then would be applied to the stores while Faust restores them from the
        changelogs: the restore writes older values over the batch's, whose offset is committed
        all the same. Such runs are left to the partition's owner, who fetches them again.
        """
        return generation == self.generation and partition in self.checkpoint.claimed

    async def release(self, partitions: set[int]) -> None:
        """Stop the producers of partitions given up, once no batch or timer is on them."""
        async with contextlib.AsyncExitStack() as held:
            for partition in sorted(partitions):
                await held.enter_async_context(self.locks[partition])
            await self.checkpoint.release(partitions)

    def assigned_partitions(self) -> set[int]:
        return {
            tp.partition
            for tp in self.app.assignor.assigned_actives()
            if tp.topic == self.kafka.changes_topic
        }

    async def handle(self, events: Sequence[Any]) -> None:
        self.busy = True
        try:
            await self._handle(events)
        finally:
            self.busy = False
            self.handled_batches += 1

    async def _handle(self, events: Sequence[Any]) -> None:
        generation = self.generation
        current = [e for e in events if e.message.generation_id == generation]
        if len(current) < len(events) or generation is None:
            log.info(
                "runs fetched before a rebalance dropped; the partitions' owners fetch them again",
                runs=len(events) - len(current),
            )
        if generation is None or not current:
            return
        if not self.recovered(generation):
            # Its stores may still be restored; the recovery's seek fetches these runs again.
            log.info(
                "runs delivered before the assignment's recovery completed dropped",
                runs=len(current),
            )
            return
        events = current
        holes = self.skipped_offsets(events)
        by_partition: dict[int, list[SourceRecord]] = {}
        for partition, (start, end) in holes.items():
            try:
                by_partition[partition] = await self.read_hole(partition, start, end)
            except (TimeoutError, KafkaError) as exc:
                # Nothing of this partition is committed past the hole: its next owner (after a
                # restart or rebalance) reads it again.
                log.error(
                    "skipped source offsets not readable", partition=partition, error=repr(exc)
                )
                by_partition[partition] = []
        unreadable = {p for p in holes if not by_partition[p]}
        for partition in unreadable:
            self.continuity.rewind(partition, holes[partition][0])
        for event in events:
            run = event.message
            if run.partition in unreadable:
                continue
            first = run.first_offset
            by_partition.setdefault(run.partition, []).extend(
                SourceRecord(run.partition, first + index, value)
                for index, value in enumerate(run.values)
            )
        await asyncio.gather(
            *(
                self.handle_partition(in_offset_order(records), generation)
                for records in by_partition.values()
                if records
            )
        )

    async def handle_partition(self, records: list[SourceRecord], generation: int) -> None:
        records = self.not_committed(records)

        async def handle(chunk: Sequence[SourceRecord]) -> None:
            await self.handle_chunk(chunk, generation)

        async def quarantine(record: SourceRecord, error: BaseException) -> None:
            await self.quarantine(record, error, generation)

        for chunk in byte_bounded(records, self.settings.batch_max_bytes):
            await handle_isolating(chunk, handle, quarantine)

    def not_committed(self, records: list[SourceRecord]) -> list[SourceRecord]:
        """The records not committed by this worker already (``continuity.CommittedPositions``)."""
        partition = records[0].partition
        first_new = self.committed.first_new(partition)
        if records[0].offset >= first_new:
            return records
        fresh = [record for record in records if record.offset >= first_new]
        SOURCE_REDELIVERIES.inc(len(records) - len(fresh))
        log.debug(
            "source records delivered again below the committed offset; skipped",
            partition=partition,
            first=records[0].offset,
            committed=first_new,
        )
        return fresh

    async def read_hole(self, partition: int, start: int, end: int) -> list[SourceRecord]:
        log.warning(
            "source offsets skipped by the consumer; reading them directly",
            partition=partition,
            first=start,
            last=end - 1,
        )
        SOURCE_REREADS.inc(end - start)
        assert self.kafka.bootstrap_servers
        records = await read_range(
            self.kafka.bootstrap_servers, self.kafka.changes_topic, partition, start, end
        )
        return [SourceRecord(partition, offset, value) for offset, value in records]

    def skipped_offsets(self, events: Sequence[Any]) -> dict[int, tuple[int, int]]:
        """Per partition, the offsets ``[start, end)`` Faust skipped before these events.

        Each event's message is a ``faust_adapter.SourceRun``: the records ``first_offset..offset``.
        """
        holes: dict[int, tuple[int, int]] = {}
        for event in events:
            message = event.message
            hole = self.continuity.observe(message.partition, message.first_offset, message.offset)
            if hole is not None:
                first = holes.get(message.partition, hole)
                holes[message.partition] = (min(first[0], hole[0]), max(first[1], hole[1]))
        return holes

    async def fetch_stalled_again(self) -> None:
        """Seek back the source partitions whose fetched records never reached the agent."""
        consumer: Any = self.app.consumer
        # Until Faust's rebalance ends (after its last seek) positions and offsets still move.
        if self.app.rebalancing or not consumer.flow_active:
            return
        stalled = self.stalled_fetch.check(
            self.continuity.expected, consumer.fetch_positions(), self.handled_batches, self.busy
        )
        if not stalled:
            return
        log.warning(
            "fetched source records never reached the agent; fetching them again",
            offsets=stalled,
        )
        SOURCE_REFETCHES.inc(len(stalled))
        try:
            await consumer.fetch_again(stalled)
        except Exception as exc:
            # A rebalance may have taken the partition meanwhile; its new owner starts from the
            # committed offset, which is still before these records. Otherwise the next check
            # finds the partition stalled again and retries.
            log.warning("seeking back a stalled partition failed", error=repr(exc))

    async def handle_chunk(self, chunk: Sequence[SourceRecord], generation: int) -> None:
        """Process and commit consecutive records of one source partition, fetched in
        ``generation``, unless the partition has moved on since (``owns``)."""
        partition = chunk[0].partition
        async with self.locks[partition]:
            if not self.owns(partition, generation):
                log.info("a batch fetched before a rebalance dropped", partition=partition)
                return
            await self.guard.ensure_current(partition)
            try:
                output = await self.processor.process(
                    [(record.partition, record.value) for record in chunk], self.state
                )
            except (psycopg.Error, OSError):
                raise
            except Exception as exc:
                raise ProcessingFailed from exc
            self.count_in(partition, output.writes, output.counts.tally())
            if not await self.commit(
                partition,
                self.outputs(output.updates, output.rejects),
                output.writes,
                chunk[-1].offset + 1,
            ):
                return
            self.committed.advance(partition, chunk[-1].offset + 1)
        for source, newest in output.newest_commit_ms.items():
            if newest > self.newest_commit_ms.get(source, 0):
                self.newest_commit_ms[source] = newest
        self.dirty_days |= output.days_touched
        self.account(len(chunk), output)

    async def commit(
        self,
        partition: int,
        records: Records,
        writes: Writes,
        next_offset: int | None,
    ) -> bool:
        """``Checkpoint.commit``; False if the partition's producer was fenced.

        A fence means a newer producer of the partition's transactional ID started: another
        worker was given the partition (this one was paused or cut off past its session), or
        the broker aborted a transaction that outlived its timeout. Either way nothing of the
        work is visible. The partition is released so that no later run of it is processed,
        and the group is asked to assign again: if the partition comes back, claiming it
        starts a new producer and reads where it resumes. Called with the partition's lock.
        """
        try:
            await self.checkpoint.commit(partition, records, writes, next_offset)
        except ProducerFenced as exc:
            FENCED_COMMITS.inc()
            log.warning(
                "producer fenced: the partition is released until the group assigns it again; "
                "its work is left uncommitted",
                partition=partition,
                error=repr(exc),
            )
            await self.checkpoint.release({partition})
            consumer: Any = self.app.consumer
            await consumer.rejoin_group()
            return False
        return True

    async def quarantine(self, record: SourceRecord, error: BaseException, generation: int) -> None:
        detail = f"{type(error).__name__}: {error}"
        log.error(
            "processing raised on a message; its changes are quarantined",
            partition=record.partition,
            offset=record.offset,
            error=detail,
            exc_info=error,
        )
        rejects = failed_message_rejects(record.value, detail)
        async with self.locks[record.partition]:
            if not self.owns(record.partition, generation):
                return
            await self.guard.ensure_current(record.partition)
            writes: dict[tuple[str, int], dict[bytes, bytes | None]] = {}
            self.count_in(
                record.partition, writes, Tally(consumed=len(rejects), rejected=len(rejects))
            )
            if not await self.commit(
                record.partition, self.outputs([], rejects), writes, record.offset + 1
            ):
                return
            self.committed.advance(record.partition, record.offset + 1)
        REJECTS.labels("stream", "processing_error").inc(len(rejects))
        self.totals["messages"] += 1
        self.totals["changes"] += len(rejects)
        self.totals["rejected"] += len(rejects)

    def count_in(
        self, partition: int, writes: dict[tuple[str, int], dict[bytes, bytes | None]], batch: Tally
    ) -> None:
        """Add the batch's outcomes to the partition's committed tally, among its writes."""
        stored = Tally.from_bytes(self.state.get(DAYS, partition, TALLY_KEY))
        writes.setdefault((DAYS, partition), {})[TALLY_KEY] = (stored + batch).to_bytes()

    def committed_tally(self) -> Tally | None:
        """The committed tallies of the partitions this worker holds, summed; None during a
        rebalance, when Faust closes and reopens the stores and a read would reopen one."""
        if self.app.rebalancing:
            return None
        total = Tally()
        for partition in self.checkpoint.claimed:
            total += Tally.from_bytes(self.state.get(DAYS, partition, TALLY_KEY))
        return total

    def outputs(
        self, updates: list[tuple[str, bytes]], rejects: list[tuple[str, bytes]]
    ) -> dict[tuple[str, int], list[KeyValue]]:
        """Updates and rejects as records by (topic, partition), keyed by site."""
        by_partition: dict[tuple[str, int], list[KeyValue]] = {}
        for topic, records in (
            (self.kafka.updates_topic, updates),
            (self.kafka.rejected_topic, rejects),
        ):
            for key, value in records:
                group = (topic, self.partition_of(key))
                entries = by_partition.get(group)
                if entries is None:
                    entries = by_partition[group] = []
                entries.append((key.encode(), value))
        return by_partition

    def partition_of(self, key: str) -> int:
        """The default partitioner's choice for ``key``, cached: murmur2 in Python is slow."""
        partition = self._partitions.get(key)
        if partition is None:
            partition = self._partitions[key] = partition_for(key.encode(), self.kafka.partitions)
        return partition

    def account(self, messages: int, output: BatchOutput) -> None:
        counts = output.counts
        for table, count in counts.tables.items():
            RECORDS_IN.labels("stream", str(table)).inc(count)
        DEDUP_HITS.inc(counts.duplicates)
        STALE_CHANGES.inc(counts.stale)
        for update_type, count in counts.update_types.items():
            RECORDS_OUT.labels("stream", "updates", update_type).inc(count)
        now_ms = time.time() * 1000
        for newest_ms in output.newest_commit_ms.values():
            COMMIT_TO_PUBLISH.labels("stream").observe(max(0.0, now_ms - newest_ms) / 1000)
        for _key, value in output.rejects:
            REJECTS.labels("stream", orjson.loads(value)["reason"]).inc()
        self.totals["messages"] += messages
        self.totals["changes"] += counts.changes
        self.totals["duplicates"] += counts.duplicates
        self.totals["rejected"] += counts.rejected
        self.totals["updates"] += len(output.updates)

    def settled(self, partition: int) -> bool:
        """Whether a timer may write for ``partition`` now: held, its assignment's recovery
        completed, and no rebalance (with its restore of the stores) under way."""
        rebalancing: bool = self.app.rebalancing
        generation = self.generation
        return (
            not rebalancing
            and generation is not None
            and self.recovered(generation)
            and partition in self.checkpoint.claimed
        )

    async def refresh_charts(self) -> None:
        """``chart_refresh`` for every (site, day) that changed since the last refresh."""
        dirty, self.dirty_days = self.dirty_days, set()
        assigned = self.assigned_partitions()
        by_partition: dict[int, list[tuple[str, str]]] = {}
        for partition, site, day in sorted(dirty):
            if partition in assigned:
                by_partition.setdefault(partition, []).append((site, day))
        emitted_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for partition, site_days in by_partition.items():
            async with self.locks[partition]:
                if not self.settled(partition):
                    continue
                updates: list[tuple[str, bytes]] = []
                for site, day in site_days:
                    raw = self.state.get(DAYS, partition, f"{site}|{day}".encode())
                    aggregate = (
                        DayAggregate() if raw is None else DayAggregate.from_json(orjson.loads(raw))
                    )
                    update = build.chart_refresh(
                        day=day,
                        bucket_minutes=BUCKET_MINUTES,
                        buckets=aggregate.timeline(day),
                        event_ids=[],
                        commit_timestamp=None,
                        site_id=site,
                        emitted_at=emitted_at,
                        seq=self.sequencer.next(site),
                    )
                    updates.append((site, orjson.dumps(update)))
                await self.commit(partition, self.outputs(updates, []), {}, None)

    async def purge_dedup(self) -> None:
        """Delete event IDs past the horizon, through the changelog, partition by partition."""
        horizon_ms = int(self.settings.dedup_horizon_s * 1000)
        for partition in sorted(self.assigned_partitions()):
            try:
                kept, expired = await self._purge_partition(partition, horizon_ms)
            except Exception as exc:
                # Best effort: the partition may have moved away (store closed) mid-scan; the
                # next purge scans again, and a missed purge only delays expiry.
                log.warning("dedup purge failed", partition=partition, error=repr(exc))
                continue
            DEDUP_TABLE_SIZE.labels(str(partition)).set(kept)
            log.info("dedup purge", partition=partition, kept=kept, expired=expired)

    async def _purge_partition(self, partition: int, horizon_ms: int) -> tuple[int, int]:
        watermark = self.newest_commit_ms.get(partition) or newest_seen(
            self.state.items(DEDUP, partition)
        )
        kept = expired = 0
        # The iterator reads a snapshot, so the agent may write meanwhile; deleting chunk by
        # chunk bounds memory and lets batches run between chunks.
        entries = self.state.items(DEDUP, partition)
        while chunk := list(itertools.islice(entries, PURGE_SCAN_CHUNK)):
            found = list(expired_ids(chunk, watermark, horizon_ms))
            if found:
                async with self.locks[partition]:
                    if not self.settled(partition):
                        break
                    await self.guard.ensure_current(partition)
                    writes = {(DEDUP, partition): dict.fromkeys(found)}
                    if not await self.commit(partition, {}, writes, None):
                        break
            expired += len(found)
            kept += len(chunk) - len(found)
            await asyncio.sleep(0)
        return kept, expired


def register_agents(
    app: faust.App, topic: Any, runner: StreamRunner, settings: StreamSettings
) -> None:
    async def on_revoked(sender: Any, revoked: Any, *args: Any, **kwargs: Any) -> None:
        await runner.revoke(
            {tp.partition for tp in revoked if tp.topic == runner.kafka.changes_topic}
        )

    revoked_signal: Any = app.on_partitions_revoked
    revoked_signal.connect(on_revoked, weak=False)

    @app.agent(topic, name="pulse-changes", concurrency=1)
    async def process_changes(stream: Any) -> None:
        async for events in stream.take_events(
            settings.batch_max_runs, within=settings.batch_within_s
        ):
            try:
                await runner.handle(events)
            except BaseException as exc:
                # Faust acknowledges the batch all the same (``take_events`` does in a
                # ``finally``), which commits nothing: only ``Checkpoint.commit`` does.
                if not isinstance(exc, asyncio.CancelledError):
                    log.critical(
                        "a batch failed; stopping the worker with its records uncommitted",
                        error=repr(exc),
                        exc_info=exc,
                    )
                    await app.crash(exc)
                raise

    async def chart_refresh() -> None:
        await runner.refresh_charts()

    async def dedup_purge() -> None:
        await runner.purge_dedup()

    async def stalled_fetch() -> None:
        await runner.fetch_stalled_again()

    async def progress() -> None:
        try:
            tally = runner.committed_tally()
            committed = None if tally is None else dataclasses.asdict(tally)
        except Exception as exc:
            # A store closes while its partition moves away; the next line has the figures.
            log.debug("committed tally not readable", error=repr(exc))
            committed = None
        log.info(
            "stream progress",
            assigned=sorted(runner.assigned_partitions()),
            committed=committed,
            **runner.totals,
        )

    app.timer(interval=settings.chart_interval_s, name="pulse-chart-refresh")(chart_refresh)
    app.timer(interval=settings.dedup_purge_interval_s, name="pulse-dedup-purge")(dedup_purge)
    app.timer(interval=settings.progress_interval_s, name="pulse-progress")(progress)
    app.timer(interval=settings.stalled_fetch_check_s, name="pulse-stalled-fetch")(stalled_fetch)
