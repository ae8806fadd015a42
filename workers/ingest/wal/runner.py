"""``pulse ingest --source wal``: the replication slot into ``supabase_changes``, none lost.

The slot's confirmed LSN only ever moves to the end of a transaction (or a heartbeat) whose
records Kafka has acknowledged, so a crash at any point replays from there: at-least-once, and
the event IDs let the stream worker drop what was sent twice.

Losing Postgres or Kafka while streaming is the same kind of event in-process: the session
(replication connection, buffers, unacknowledged sends) is dropped, the lost dependency is
reconnected with backoff, and streaming resumes from the slot's confirmed position. A broker
that comes back before the producer's sends time out costs no session: the producer delivers
what waited, and only the watch (``resilience.kafka_watch``) reports the outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field

import psycopg
import psycopg2
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from workers.changes.keying import KeyedChange, Rejection
from workers.ingest.publisher import ChangePublisher, Delivery, make_producer, started_producer
from workers.ingest.settings import WalIngestSettings
from workers.ingest.wal.pgoutput import DecodeError, decode
from workers.ingest.wal.replication import (
    ReplicationSetupError,
    ReplicationStream,
    SlotGone,
    drop_slot,
    emit_heartbeat,
    ensure_publication,
    mark_snapshot_done,
    slot_lag_bytes,
    slot_state,
)
from workers.ingest.wal.snapshot import snapshot_changes
from workers.ingest.wal.transactions import CommitMark, HeartbeatMark, TransactionAssembler
from workers.kafka.topics import ensure_project_topics
from workers.observability.metrics import (
    COMMIT_TO_PUBLISH,
    RECORDS_IN,
    RECORDS_OUT,
    SLOT_LAG_BYTES,
)
from workers.observability.metrics import SOURCE_LIVE as SOURCE_LIVE_GAUGE
from workers.observability.readiness import RECOVERED, SOURCE_LIVE, Readiness
from workers.resilience.backoff import Backoff
from workers.resilience.kafka_watch import watch_kafka
from workers.resilience.link import DependencyLink, one_line_error
from workers.settings import KafkaSettings, ReconnectSettings, require

log = structlog.get_logger("pulse.ingest.wal")

HEARTBEAT_PREFIX = "realtime_pulse.heartbeat"
KEEPALIVE_INTERVAL_S = 5.0

# What losing the server looks like from psycopg2's replication connection (a restart gives
# "no COPY in progress", a plain DatabaseError), from psycopg's admin connection, and from a
# reconnect attempt that cannot get through yet.
POSTGRES_ERRORS = (psycopg2.Error, psycopg.Error, ReplicationSetupError, OSError)


@dataclass
class IngestProgress:
    """Counts of records Kafka acknowledged, and the slot position confirmed after them."""

    snapshot_rows: int = 0
    changes_acked: int = 0
    rejected_acked: int = 0
    confirmed_lsn: int = 0
    streaming: asyncio.Event = field(default_factory=asyncio.Event)


class _RecordsIn:
    """Changes read, per table, added to ``pulse_records_in_total`` once per publish.

    Counting per change would take the counter's lock and look up its labels for every change.
    """

    def __init__(self) -> None:
        self._tables: dict[str, int] = {}

    def buffer(self, publisher: ChangePublisher, item: KeyedChange | Rejection) -> None:
        if isinstance(item, Rejection):
            publisher.reject(item)
        else:
            self._tables[item.table] = self._tables.get(item.table, 0) + 1
            publisher.add_encoded(item.site_id, item.body)

    async def publish(self, publisher: ChangePublisher) -> Delivery:
        for table, count in self._tables.items():
            RECORDS_IN.labels("ingest", table).inc(count)
        self._tables.clear()
        return await publisher.publish()


class _Acks:
    """Deliveries in send order, each with the slot position that becomes safe once it is acked."""

    def __init__(self, stream: ReplicationStream, progress: IngestProgress) -> None:
        self._stream = stream
        self._progress = progress
        self._pending: deque[tuple[int, Delivery, float]] = deque()
        self.queued_lsn = 0

    def __len__(self) -> int:
        return len(self._pending)

    def push(self, lsn: int, delivery: Delivery, oldest_commit: float) -> None:
        self._pending.append((lsn, delivery, oldest_commit))
        self.queued_lsn = max(self.queued_lsn, lsn)

    async def abandon(self) -> None:
        """Wait out every send of a session that failed, confirming nothing: the slot replays
        them. Waiting keeps the old session's records from landing after the new one's."""
        futures = [future for _, delivery, _ in self._pending for future in delivery.futures]
        self._pending.clear()
        await asyncio.gather(*futures, return_exceptions=True)

    async def settle(self, wait_all: bool = False, wait_one: bool = False) -> None:
        while self._pending and (wait_all or wait_one or self._pending[0][1].done()):
            lsn, delivery, commit_s = self._pending.popleft()
            await delivery.wait()
            wait_one = False
            if delivery.changes:
                RECORDS_OUT.labels("ingest", "changes", "change_batch").inc(delivery.changes)
                COMMIT_TO_PUBLISH.labels("ingest").observe(max(0.0, time.time() - commit_s))
            if delivery.rejected:
                RECORDS_OUT.labels("ingest", "rejected", "rejected").inc(delivery.rejected)
            self._progress.changes_acked += delivery.changes
            self._progress.rejected_acked += delivery.rejected
            if lsn > self._progress.confirmed_lsn:
                self._stream.confirm(lsn)
                self._progress.confirmed_lsn = lsn


async def _run_snapshot(
    dsn: str, snapshot_name: str, publisher: ChangePublisher, options: WalIngestSettings
) -> int:
    rows = 0
    deliveries: list[Delivery] = []
    records_in = _RecordsIn()
    with psycopg.connect(dsn, autocommit=True) as conn:
        for item in snapshot_changes(conn, snapshot_name):
            records_in.buffer(publisher, item)
            rows += 1
            if publisher.buffered >= options.max_buffered:
                deliveries.append(await records_in.publish(publisher))
                if len(deliveries) >= options.max_in_flight:
                    await deliveries.pop(0).wait()
            if rows % 50_000 == 0:
                log.info("snapshot progress", rows=rows)
    deliveries.append(await records_in.publish(publisher))
    for delivery in deliveries:
        await delivery.wait()
    return rows


def _prepare_slot(
    dsn: str, stream: ReplicationStream, options: WalIngestSettings
) -> tuple[psycopg.Connection[tuple[object, ...]], str | None]:
    """Publication and slot in place; returns the admin connection and any snapshot to read."""
    admin = psycopg.connect(dsn, autocommit=True)
    ensure_publication(admin, options.publication)
    state = slot_state(admin, options.slot_name)
    if state.active:
        admin.close()
        raise ReplicationSetupError(
            f"replication slot {options.slot_name!r} is in use by another process; "
            "only one ingest worker may read a slot"
        )
    if not state.exists and state.snapshot_done:
        admin.close()
        raise SlotGone(options.slot_name)
    if state.exists and not state.snapshot_done and options.snapshot:
        log.warning(
            "previous initial snapshot did not finish; recreating the slot", slot=options.slot_name
        )
        drop_slot(admin, options.slot_name)
    elif state.exists:
        return admin, None
    _point, snapshot_name = stream.create_slot_with_snapshot(options.slot_name)
    log.info("replication slot created", slot=options.slot_name)
    if not options.snapshot:
        mark_snapshot_done(admin, options.slot_name, 0)
        return admin, None
    return admin, snapshot_name


def _resume_slot(
    dsn: str, options: WalIngestSettings
) -> tuple[ReplicationStream, psycopg.Connection[tuple[object, ...]]]:
    """A new replication connection streaming from the slot's confirmed position, and a new
    admin connection; SlotGone when the slot no longer exists."""
    stream = ReplicationStream(dsn)
    admin: psycopg.Connection[tuple[object, ...]] | None = None
    try:
        admin = psycopg.connect(dsn, autocommit=True)
        state = slot_state(admin, options.slot_name)
        if not state.exists:
            raise SlotGone(options.slot_name)
        if state.active:
            # The walsender of the lost connection may not have noticed yet; retried.
            raise ReplicationSetupError(f"replication slot {options.slot_name!r} is still active")
        stream.start(options.slot_name, options.publication)
    except BaseException:
        stream.close()
        if admin is not None:
            admin.close()
        raise
    return stream, admin


class _Links:
    """The ingest's two dependencies, their backoff, and the readiness they feed."""

    def __init__(self, readiness: Readiness, reconnect: ReconnectSettings) -> None:
        self.postgres = DependencyLink("ingest", "postgres", readiness, log)
        self.kafka = DependencyLink("ingest", "kafka", readiness, log)
        self.readiness = readiness
        self.policy = reconnect.policy()

    def live(self, live: bool) -> None:
        SOURCE_LIVE_GAUGE.labels("wal").set(1 if live else 0)
        self.readiness.set(SOURCE_LIVE, live)


async def _pause(seconds: float, stop: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _new_session(
    dsn: str, options: WalIngestSettings, links: _Links, stop: asyncio.Event
) -> tuple[ReplicationStream, psycopg.Connection[tuple[object, ...]]] | None:
    """Streaming again from the slot, or None when asked to stop first."""
    backoff = Backoff(links.policy)
    while not stop.is_set():
        await _pause(backoff.next_delay(), stop)
        if stop.is_set():
            break
        try:
            session = await asyncio.to_thread(_resume_slot, dsn, options)
        except SlotGone:
            raise
        except POSTGRES_ERRORS as exc:
            links.postgres.lost(exc)
            log.debug("postgres reconnect attempt failed", attempts=backoff.attempts)
            continue
        links.postgres.restored()
        return session
    return None


async def run_wal_ingest(
    dsn: str,
    kafka: KafkaSettings,
    options: WalIngestSettings,
    stop: asyncio.Event,
    progress: IngestProgress | None = None,
    readiness: Readiness | None = None,
    reconnect: ReconnectSettings | None = None,
) -> IngestProgress:
    progress = progress or IngestProgress()
    readiness = readiness or Readiness()
    links = _Links(readiness, reconnect or ReconnectSettings())
    bootstrap = require(kafka.bootstrap_servers, "KAFKA_BOOTSTRAP_SERVERS", "to publish changes")
    await ensure_project_topics(bootstrap, kafka)
    first = make_producer(bootstrap, options.send_timeout_s)
    await first.start()
    producer: AIOKafkaProducer | None = first
    stream: ReplicationStream | None = ReplicationStream(dsn)
    admin: psycopg.Connection[tuple[object, ...]] | None = None
    unwatch = asyncio.Event()
    watch = asyncio.create_task(
        watch_kafka(bootstrap, links.kafka, links.policy, unwatch), name="kafka-watch"
    )
    try:
        assert stream is not None
        prepared, snapshot_name = await asyncio.to_thread(_prepare_slot, dsn, stream, options)
        admin = prepared
        readiness.set(RECOVERED)
        if snapshot_name is not None:
            log.info("initial snapshot started", slot=options.slot_name)
            publisher = ChangePublisher(producer, kafka)
            progress.snapshot_rows = await _run_snapshot(dsn, snapshot_name, publisher, options)
            mark_snapshot_done(prepared, options.slot_name, progress.snapshot_rows)
            log.info("initial snapshot done", rows=progress.snapshot_rows)
        stream.start(options.slot_name, options.publication)
        progress.streaming.set()
        log.info("streaming", slot=options.slot_name, publication=options.publication)
        while stream is not None and admin is not None and producer is not None:
            links.live(True)
            try:
                publisher = ChangePublisher(producer, kafka)
                await _stream(stream, admin, publisher, options, stop, progress)
                break
            except KafkaError as exc:
                links.kafka.lost(exc)
                # Said even while Kafka is already away: it tells a broker that came back in
                # time (no line) from sends that timed out and are read from the slot again.
                log.warning("kafka sends failed; resuming from the slot", error=one_line_error(exc))
            except POSTGRES_ERRORS as exc:
                links.postgres.lost(exc)
            links.live(False)
            stream.close()
            admin.close()
            stream, admin = None, None
            if not links.kafka.up:
                await producer.stop()
                producer = await started_producer(
                    bootstrap, options.send_timeout_s, links.kafka, links.policy, stop
                )
            if producer is not None:
                session = await _new_session(dsn, options, links, stop)
                if session is not None:
                    stream, admin = session
    finally:
        links.live(False)
        unwatch.set()
        if stream is not None:
            stream.close()
        if admin is not None:
            admin.close()
        if producer is not None:
            await producer.stop()
        await watch
    log.info("ingest stopped", acked=progress.changes_acked, rejected=progress.rejected_acked)
    return progress


async def _stream(
    stream: ReplicationStream,
    admin: psycopg.Connection[tuple[object, ...]],
    publisher: ChangePublisher,
    options: WalIngestSettings,
    stop: asyncio.Event,
    progress: IngestProgress,
) -> None:
    loop = asyncio.get_running_loop()
    readable = asyncio.Event()
    # Kept: a lost connection has no descriptor left to ask for.
    fd = stream.fileno()
    loop.add_reader(fd, readable.set)
    assembler = TransactionAssembler(heartbeat_prefix=HEARTBEAT_PREFIX)
    acks = _Acks(stream, progress)
    records_in = _RecordsIn()
    position = 0
    oldest_commit = time.time()
    flush_s = options.flush_interval_ms / 1000
    last_publish = time.monotonic()
    next_heartbeat = time.monotonic() + options.heartbeat_interval_s
    next_keepalive = time.monotonic() + KEEPALIVE_INTERVAL_S
    try:
        while not stop.is_set():
            read = 0
            while read < options.max_buffered:
                message = stream.read()
                if message is None:
                    break
                read += 1
                try:
                    decoded = decode(message.payload)
                except DecodeError as exc:
                    publisher.reject(
                        Rejection(
                            "undecodable",
                            str(exc),
                            None,
                            {"lsn": message.data_start, "hex": bytes(message.payload[:4096]).hex()},
                        )
                    )
                    continue
                for item in assembler.feed(decoded, message.data_start):
                    if isinstance(item, CommitMark):
                        position = max(position, item.end_lsn)
                    elif isinstance(item, HeartbeatMark):
                        position = max(position, item.lsn)
                    else:
                        if not publisher.buffered:
                            oldest_commit = time.time()
                        records_in.buffer(publisher, item)
            now = time.monotonic()
            if publisher.buffered and (
                publisher.buffered >= options.max_buffered or now - last_publish >= flush_s
            ):
                acks.push(position, await records_in.publish(publisher), oldest_commit)
                last_publish = now
            elif not publisher.buffered and position > acks.queued_lsn:
                acks.push(position, Delivery([], 0), time.time())
            await acks.settle(wait_one=len(acks) > options.max_in_flight)
            if now >= next_heartbeat:
                next_heartbeat = now + options.heartbeat_interval_s
                await asyncio.to_thread(_heartbeat, admin, options.slot_name)
            if now >= next_keepalive:
                next_keepalive = now + KEEPALIVE_INTERVAL_S
                stream.keepalive()
            if read == 0:
                readable.clear()
                timeout = flush_s if publisher.buffered or len(acks) else KEEPALIVE_INTERVAL_S
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_first(readable, stop), timeout)
        log.info("draining", buffered=publisher.buffered, in_flight=len(acks))
        if publisher.buffered:
            acks.push(position, await records_in.publish(publisher), oldest_commit)
        elif position > acks.queued_lsn:
            acks.push(position, Delivery([], 0), time.time())
        await acks.settle(wait_all=True)
    except Exception:
        await acks.abandon()
        raise
    finally:
        loop.remove_reader(fd)


async def _first(readable: asyncio.Event, stop: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(readable.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def _heartbeat(admin: psycopg.Connection[tuple[object, ...]], slot: str) -> None:
    emit_heartbeat(admin, HEARTBEAT_PREFIX)
    lag = slot_lag_bytes(admin, slot)
    if lag is not None:
        SLOT_LAG_BYTES.labels(slot).set(lag)
