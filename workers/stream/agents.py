"""The agent and timers: batches of ``supabase_changes`` in, ``dashboard_updates`` and rejects out.

Order per batch, which is what makes a crash at any point only replay, never lose:
1. compute everything (``processing``), no I/O except the Postgres session lookup;
2. publish the updates and rejects and wait for the acks;
3. persist the state writes (changelog first, then the local store, ``tables``);
4. only then does Faust ack the batch's offsets (``take_events`` acks after the loop body).
A crash after 2 re-publishes the batch's updates after the restart (subscribers drop them by event
ID); a crash after 3 finds the changes in the dedup table and publishes nothing again.

A batch that raises is never acknowledged. Where the processing raised, the failing message is
isolated and quarantined (``isolation``). Anything else (the broker not answering a publish or
persist within ``PULSE_PRODUCER_REQUEST_TIMEOUT_S``, a store error) stops the worker: the batch's
records are held unacknowledged, which keeps the commit before them (``commit_offsets``), and the
worker that takes the partitions over processes them again.

Agent concurrency stays 1: above 1 Faust may commit past an unprocessed message (faust #606).
Timers (chart refresh, dedup purge) take the same lock as the agent so they never interleave
with a batch's read-compute-persist cycle.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator, Sequence
from typing import Any

import faust
import orjson
import psycopg
import structlog
from aiokafka.errors import KafkaError
from faust.types import Message

from workers.kafka.partitioner import partition_for
from workers.observability.metrics import (
    COMMIT_TO_PUBLISH,
    DEDUP_HITS,
    DEDUP_TABLE_SIZE,
    RECORDS_IN,
    RECORDS_OUT,
    REJECTS,
    SOURCE_REFETCHES,
    SOURCE_REREADS,
    STALE_CHANGES,
)
from workers.settings import KafkaSettings
from workers.stream.continuity import OffsetContinuity, known_offsets
from workers.stream.dedup import expired_ids, newest_seen
from workers.stream.isolation import ProcessingFailed, handle_isolating
from workers.stream.kpis import DayAggregate
from workers.stream.processing import (
    DAYS,
    DEDUP,
    BatchOutput,
    BatchProcessor,
    Processor,
    SessionLookup,
    failed_message_rejects,
)
from workers.stream.producing import KeyValue, send_grouped
from workers.stream.reread import read_range
from workers.stream.sequencing import SiteSequencer
from workers.stream.settings import WorkerSettings
from workers.stream.stalled_fetch import StalledFetchCheck
from workers.stream.tables import StateTables, kafka_producer

log = structlog.get_logger("pulse.stream")

PURGE_SCAN_CHUNK = 20_000


def byte_bounded(
    messages: list[tuple[int, bytes]], max_bytes: int
) -> Iterator[list[tuple[int, bytes]]]:
    """Consecutive runs of messages of at most ``max_bytes`` (at least one message each).

    Everything a batch decodes and produces stays in memory until it is persisted, and Python
    keeps the peak: bounding a processing round by bytes (about changes) bounds the worker's RSS
    whether envelopes hold 5 changes or 500.
    """
    chunk: list[tuple[int, bytes]] = []
    size = 0
    for message in messages:
        if chunk and size + len(message[1]) > max_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append(message)
        size += len(message[1])
    if chunk:
        yield chunk


class StreamRunner:
    def __init__(
        self,
        app: faust.App,
        state: StateTables,
        kafka: KafkaSettings,
        settings: WorkerSettings,
        lookup: SessionLookup,
        processor: Processor | None = None,
    ) -> None:
        self.app = app
        self.state = state
        self.kafka = kafka
        self.settings = settings
        self.sequencer = SiteSequencer()
        self.processor: Processor = processor or BatchProcessor(
            lookup,
            sequencer=self.sequencer,
            freshness_interval_s=settings.freshness_interval_s,
            max_pending=settings.max_pending_events,
        )
        self.lock = asyncio.Lock()
        self._partitions: dict[str, int] = {}
        self.newest_commit_ms: dict[int, int] = {}
        self.dirty_days: set[tuple[int, str, str]] = set()
        self.continuity = OffsetContinuity()
        self.assignment_changed = True
        self.stalled_fetch = StalledFetchCheck()
        self.handled_batches = 0
        self.busy = False
        self.totals = {"messages": 0, "changes": 0, "duplicates": 0, "rejected": 0, "updates": 0}

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
        holes = self.skipped_offsets(events)
        messages: list[tuple[int, bytes]] = []
        for partition, (start, end) in list(holes.items()):
            try:
                messages += await self.read_hole(partition, start, end)
            except (TimeoutError, KafkaError) as exc:
                # Left unacknowledged, the hole holds the committed offset back, so the next
                # owner of the partition (after a restart or rebalance) reads it again.
                log.error(
                    "skipped source offsets not readable", partition=partition, error=repr(exc)
                )
                del holes[partition]
        for event in events:
            run = event.message
            messages += [(run.partition, value) for value in run.values]
        for chunk in byte_bounded(messages, self.settings.batch_max_bytes):
            await handle_isolating(chunk, self.handle_chunk, self.quarantine)
        consumer = self.app.consumer
        for partition, (start, end) in holes.items():
            # Processed and persisted now: only from here may the committed offset pass them.
            for offset in range(start, end):
                consumer.ack(
                    Message(
                        self.kafka.changes_topic, partition, offset, 0.0, 0, None, None, None, None
                    )
                )

    async def read_hole(self, partition: int, start: int, end: int) -> list[tuple[int, bytes]]:
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
        return [(partition, value) for _offset, value in records]

    def skipped_offsets(self, events: Sequence[Any]) -> dict[int, tuple[int, int]]:
        """Per partition, the offsets ``[start, end)`` Faust skipped before these events.

        Each event's message is a ``fetching.SourceRun``: the records ``first_offset..offset``.
        """
        if self.assignment_changed:
            # Committed offsets are only final once recovery has sought to them; until then
            # events may still come from before the rebalance, and nothing is judged.
            tables: Any = self.app.tables
            if not tables.recovery.completed.is_set():
                return {}
            consumer: Any = self.app.consumer
            self.continuity.reset(consumer.resume_offsets())
            self.assignment_changed = False
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
        # No batch since the rebalance: the agent expects the offsets it resumes from.
        expected = (
            known_offsets(consumer.resume_offsets())
            if self.assignment_changed
            else self.continuity.expected
        )
        stalled = self.stalled_fetch.check(
            expected, consumer.fetch_positions(), self.handled_batches, self.busy
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

    async def handle_chunk(self, messages: Sequence[tuple[int, bytes]]) -> None:
        async with self.lock:
            try:
                output = await self.processor.process(messages, self.state)
            except (psycopg.Error, OSError):
                raise
            except Exception as exc:
                raise ProcessingFailed from exc
            await self.publish(output.updates, output.rejects)
            await self.state.persist(output.writes)
        for partition, newest in output.newest_commit_ms.items():
            if newest > self.newest_commit_ms.get(partition, 0):
                self.newest_commit_ms[partition] = newest
        self.dirty_days |= output.days_touched
        self.account(len(messages), output)

    async def quarantine(self, message: tuple[int, bytes], error: BaseException) -> None:
        partition, raw = message
        detail = f"{type(error).__name__}: {error}"
        log.error(
            "processing raised on a message; its changes are quarantined",
            partition=partition,
            error=detail,
            exc_info=error,
        )
        rejects = failed_message_rejects(raw, detail)
        await self.publish([], rejects)
        REJECTS.labels("stream", "processing_error").inc(len(rejects))
        self.totals["messages"] += 1
        self.totals["changes"] += len(rejects)
        self.totals["rejected"] += len(rejects)

    async def publish(
        self, updates: list[tuple[str, bytes]], rejects: list[tuple[str, bytes]]
    ) -> None:
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
        if by_partition:
            await send_grouped(kafka_producer(self.app), by_partition)

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

    async def refresh_charts(self) -> None:
        """``chart_refresh`` for every (site, day) that changed since the last refresh."""
        dirty, self.dirty_days = self.dirty_days, set()
        assigned = self.assigned_partitions()
        updates: list[tuple[str, bytes]] = []
        emitted_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        async with self.lock:
            for partition, site, day in sorted(dirty):
                if partition not in assigned:
                    continue
                raw = self.state.get(DAYS, partition, f"{site}|{day}".encode())
                aggregate = (
                    DayAggregate() if raw is None else DayAggregate.from_json(orjson.loads(raw))
                )
                update = {
                    "type": "chart_refresh",
                    "site_id": site,
                    "seq": self.sequencer.next(site),
                    "day": day,
                    "bucket_minutes": 5,
                    "buckets": aggregate.timeline(day),
                    "event_ids": [],
                    "commit_timestamp": None,
                    "emitted_at": emitted_at,
                }
                updates.append((site, orjson.dumps(update)))
            await self.publish(updates, [])

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
                async with self.lock:
                    await self.state.persist({(DEDUP, partition): dict.fromkeys(found)})
            expired += len(found)
            kept += len(chunk) - len(found)
            await asyncio.sleep(0)
        return kept, expired


def register_agents(
    app: faust.App, topic: Any, runner: StreamRunner, settings: WorkerSettings
) -> None:
    def on_assigned(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        runner.assignment_changed = True

    assigned_signal: Any = app.on_partitions_assigned
    assigned_signal.connect(on_assigned)

    @app.agent(topic, name="pulse-changes", concurrency=1)
    async def process_changes(stream: Any) -> None:
        async for events in stream.take_events(
            settings.batch_max_runs, within=settings.batch_within_s
        ):
            try:
                await runner.handle(events)
            except BaseException as exc:
                # ``take_events`` acknowledges the batch in a ``finally``: an extra reference
                # keeps its records unacknowledged, so no commit passes them.
                for event in events:
                    event.message.incref()
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
        log.info("stream progress", assigned=sorted(runner.assigned_partitions()), **runner.totals)

    app.timer(interval=settings.chart_interval_s, name="pulse-chart-refresh")(chart_refresh)
    app.timer(interval=settings.dedup_purge_interval_s, name="pulse-dedup-purge")(dedup_purge)
    app.timer(interval=settings.progress_interval_s, name="pulse-progress")(progress)
    app.timer(interval=settings.stalled_fetch_check_s, name="pulse-stalled-fetch")(stalled_fetch)
