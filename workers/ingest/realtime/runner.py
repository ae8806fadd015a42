"""``pulse ingest --source realtime``: Supabase Realtime pushes plus PostgREST catch-up into Kafka.

One task owns publishing: pushes, catch-up requests and status changes arrive on one queue and are
handled in order. Pushes are turned into changes with the same event IDs as the WAL source. After
every "Subscribed to PostgreSQL", and every ``catchup_interval_s``, a catch-up re-reads the rows
changed since each table's high-water mark; the mark advances only once Kafka acknowledged what
the read published. Row versions already pushed are skipped.

Status updates (``pulse_status``) go to the updates topic, keyed by site: to the sites listed in
``PULSE_STATUS_SITES``, or else to every site of the ``sites`` table, read through PostgREST
at start and at every catch-up.

A broker restart is ridden out by the producer, which delivers what waited once the broker is
back; the Kafka watch (``resilience.kafka_watch``) reports the outage meanwhile. Sends that time
out instead are replaced, on a new producer, by a catch-up from the marks for the rows, the
unacknowledged rejects sent again, and the current status published again.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from postgrest.exceptions import APIError
from supabase import acreate_client

from schemas.changes import ChangeRecord
from schemas.updates import PulseStatus
from workers.changes.keying import Rejection
from workers.changes.values import canonical_timestamp
from workers.ingest.publisher import ChangePublisher, Delivery, make_producer, started_producer
from workers.ingest.realtime.catchup import CatchUpReader, HighWaterMarks, SeenVersions
from workers.ingest.realtime.changes import (
    CATCHUP_COLUMN_TYPES,
    change_from_push,
    change_from_row,
    column_types,
)
from workers.ingest.realtime.source import RealtimeSource
from workers.ingest.realtime.status import Status, StatusTracker, Transition
from workers.ingest.realtime.token import TokenKeeper, TokenSource, file_token_source
from workers.ingest.settings import RealtimeIngestSettings
from workers.kafka.topics import ensure_project_topics
from workers.observability.metrics import (
    COMMIT_TO_PUBLISH,
    REALTIME_CATCHUP_ROWS,
    RECORDS_IN,
    RECORDS_OUT,
)
from workers.observability.readiness import RECOVERED, SOURCE_LIVE, Readiness
from workers.resilience.backoff import BackoffPolicy
from workers.resilience.kafka_watch import watch_kafka
from workers.resilience.link import DependencyLink
from workers.settings import KafkaSettings, ReconnectSettings, require

log = structlog.get_logger("pulse.ingest.realtime")

COMPONENT = "ingest_realtime"
MAX_IN_FLIGHT = 16
SHUTDOWN_WAIT_S = 10.0


@dataclass
class RealtimeProgress:
    """What the source did, for tests and the final log line (``*_acked``: acknowledged)."""

    pushes: int = 0
    catchup_rows: int = 0
    catchup_skipped: int = 0
    catchups: int = 0
    catchup_failures: int = 0
    rejected: int = 0
    changes_acked: int = 0
    rejected_acked: int = 0
    status_updates: int = 0
    producer_restarts: int = 0
    tracker: StatusTracker = field(default_factory=StatusTracker)
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True)
class _Push:
    payload: dict[str, Any]


@dataclass(frozen=True)
class _CatchUp:
    reason: str


@dataclass(frozen=True)
class _StatusChange:
    transition: Transition


Work = _Push | _CatchUp | _StatusChange


class _Pump:
    def __init__(
        self,
        *,
        producer: AIOKafkaProducer,
        kafka: KafkaSettings,
        options: RealtimeIngestSettings,
        rest: Any,
        progress: RealtimeProgress,
        readiness: Readiness,
        bootstrap: str,
        kafka_link: DependencyLink,
        reconnect: BackoffPolicy,
    ) -> None:
        self.publisher = ChangePublisher(producer, kafka)
        self.producer = producer
        self.kafka = kafka
        self.bootstrap = bootstrap
        self.kafka_link = kafka_link
        self.reconnect = reconnect
        self.options = options
        self.rest = rest
        self.progress = progress
        self.readiness = readiness
        self.queue: asyncio.Queue[Work] = asyncio.Queue()
        self.reader = CatchUpReader(rest, options.catchup_page_size, options.catchup_lookback_s)
        self.marks = HighWaterMarks()
        self.seen = SeenVersions(options.seen_versions)
        self.types: dict[str, dict[str, str]] = {
            t: dict(c) for t, c in CATCHUP_COLUMN_TYPES.items()
        }
        self.sites: list[str] = list(options.status_sites)
        self.in_flight: deque[tuple[Delivery, float]] = deque()
        self.catchup_queued = False
        self.first_catchup = True

    # -- intake (called from the realtime client's callbacks, synchronously) ------------------------

    def push(self, payload: dict[str, Any]) -> None:
        self.queue.put_nowait(_Push(payload))

    def request_catchup(self, reason: str) -> None:
        if not self.catchup_queued:
            self.catchup_queued = True
            self.queue.put_nowait(_CatchUp(reason))

    def status(self, transition: Transition) -> None:
        self.queue.put_nowait(_StatusChange(transition))

    # -- the loop ------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        flush_s = self.options.flush_interval_ms / 1000
        try:
            await self._refresh_sites()
        except Exception as exc:
            log.warning("cannot read the sites for status updates yet", error=str(exc))
        oldest: float | None = None
        while not stop.is_set():
            try:
                oldest = await self._step(flush_s, oldest)
            except KafkaError as exc:
                oldest = None
                await self._restart_producer(exc, stop)
        while not self.queue.empty():
            work = self.queue.get_nowait()
            if isinstance(work, _Push):
                self._take_push(work.payload)
            elif isinstance(work, _StatusChange):
                await self._publish_status(work.transition)
        await self.flush()
        await self.settle(wait_all=True)

    async def _step(self, flush_s: float, oldest: float | None) -> float | None:
        """Handle the next work item, or flush when none comes; returns when the oldest record
        still buffered was taken (None: nothing buffered)."""
        wait_s = flush_s if oldest is None else max(0.0, oldest + flush_s - time.monotonic())
        try:
            work = await asyncio.wait_for(self.queue.get(), timeout=wait_s)
        except TimeoutError:
            await self.flush()
            return None
        if isinstance(work, _Push):
            self._take_push(work.payload)
            oldest = oldest or time.monotonic()
            if (
                self.publisher.buffered >= self.options.max_buffered
                or time.monotonic() - oldest >= flush_s
            ):
                await self.flush()
                return None
            return oldest
        if isinstance(work, _CatchUp):
            self.catchup_queued = False
            await self.flush()
            await self.catch_up(work.reason)
            return None
        await self._publish_status(work.transition)
        return oldest

    async def _restart_producer(self, error: KafkaError, stop: asyncio.Event) -> None:
        """Kafka did not acknowledge sends in time, so whatever they carried may be lost: a new
        producer replaces the old one and a catch-up publishes every row changed since the
        marks again, none skipped as seen. A catch-up cannot restore a reject (a deleted row, a
        state since replaced, an unreadable push), so the rejects not acknowledged are sent
        again, the same records, and so is the current status, as a new update."""
        self.kafka_link.lost(error)
        self.seen = SeenVersions(self.options.seen_versions)
        # Stopping settles the old producer's sends, so what it did deliver is not sent twice.
        await self.producer.stop()
        unacknowledged = [
            record for delivery, _ in self.in_flight for record in delivery.unacknowledged_rejects()
        ]
        self.in_flight.clear()
        self.publisher.resend(unacknowledged)
        producer = await started_producer(
            self.bootstrap, self.options.send_timeout_s, self.kafka_link, self.reconnect, stop
        )
        if producer is None:
            return
        log.info("sending unacknowledged rejects again", rejects=len(unacknowledged))
        self.progress.producer_restarts += 1
        self.producer = producer
        self.publisher.producer = producer
        if self.progress.tracker.history:
            self.status(self.progress.tracker.history[-1])
        self.request_catchup("kafka")

    def _take_push(self, payload: dict[str, Any]) -> None:
        item = change_from_push(payload)
        self._buffer(item)
        if isinstance(item, ChangeRecord):
            self.progress.pushes += 1
            learned = column_types(payload.get("data") or {})
            if learned:
                self.types[item.table] = learned
            if item.record is not None:
                self.seen.remember(item.table, str(item.record.get("id")), item.record)

    def _buffer(self, item: ChangeRecord | Rejection) -> None:
        if isinstance(item, Rejection):
            self.progress.rejected += 1
            self.publisher.reject(item)
        else:
            RECORDS_IN.labels(COMPONENT, item.table).inc()
            self.publisher.add(item)

    async def flush(self) -> None:
        if self.publisher.buffered:
            self.in_flight.append((await self.publisher.publish(), time.time()))
        await self.settle(wait_all=len(self.in_flight) > MAX_IN_FLIGHT)

    async def settle(self, wait_all: bool = False) -> None:
        while self.in_flight and (wait_all or self.in_flight[0][0].done()):
            delivery, sent_at = self.in_flight[0]
            # Left in flight until acknowledged: a failed one's rejects are sent again.
            await delivery.wait()
            self.in_flight.popleft()
            if delivery.changes:
                RECORDS_OUT.labels(COMPONENT, "changes", "change_batch").inc(delivery.changes)
                COMMIT_TO_PUBLISH.labels(COMPONENT).observe(max(0.0, time.time() - sent_at))
            if delivery.rejected:
                RECORDS_OUT.labels(COMPONENT, "rejected", "rejected").inc(delivery.rejected)
            self.progress.changes_acked += delivery.changes
            self.progress.rejected_acked += delivery.rejected

    # -- catch-up ------------------------------------------------------------------------------------

    async def catch_up(self, reason: str) -> None:
        started = time.monotonic()
        found: dict[str, str] = {}
        published = skipped = 0
        try:
            await self._refresh_sites()
            for table in self.options.tables:
                mark = self.marks.start_of(table)
                if mark is None and self.first_catchup and self.options.initial_catchup == "none":
                    newest = await self.reader.newest(table)
                    if newest is not None:
                        found[table] = newest
                    continue
                async for page in self.reader.pages(table, mark):
                    for row in page:
                        updated = canonical_timestamp(str(row["updated_at"]))
                        found[table] = max(found.get(table, updated), updated)
                        item = change_from_row(table, row, self.types.get(table, {}))
                        if isinstance(item, ChangeRecord) and item.record is not None:
                            row_id = str(item.record.get("id"))
                            if self.seen.already_published(table, row_id, item.record):
                                skipped += 1
                                REALTIME_CATCHUP_ROWS.labels(table, "skipped").inc()
                                continue
                            self.seen.remember(table, row_id, item.record)
                            published += 1
                            REALTIME_CATCHUP_ROWS.labels(table, "published").inc()
                        self._buffer(item)
                    await self.flush()
            await self.flush()
            await self.settle(wait_all=True)
        except (APIError, httpx.HTTPError, OSError, ValueError) as exc:
            # The marks stay put: the next catch-up reads the same range again.
            self.progress.catchup_failures += 1
            log.error("catch-up failed; marks unchanged", reason=reason, error=str(exc))
            return
        self.marks.advance(found)
        self.first_catchup = False
        self.progress.catchups += 1
        self.progress.catchup_rows += published
        self.progress.catchup_skipped += skipped
        self.readiness.set(RECOVERED)
        self.progress.caught_up.set()
        log.info(
            "catch-up done",
            reason=reason,
            published=published,
            skipped=skipped,
            seconds=round(time.monotonic() - started, 3),
            marks=self.marks.marks,
        )

    async def _refresh_sites(self) -> None:
        if self.options.status_sites:
            return
        rows = await self.rest.from_("sites").select("id").execute()
        self.sites = [str(row["id"]) for row in rows.data]

    # -- status --------------------------------------------------------------------------------------

    async def _publish_status(self, transition: Transition) -> None:
        if transition.live:
            self.readiness.set(SOURCE_LIVE)
        else:
            self.readiness.clear(SOURCE_LIVE)
        updates = self.progress.tracker.updates(transition, self.sites)
        for update in updates:
            self.in_flight.append((await self._send_update(update), time.time()))
        self.progress.status_updates += len(updates)
        if updates:
            RECORDS_OUT.labels(COMPONENT, "updates", "pulse_status").inc(len(updates))

    async def _send_update(self, update: PulseStatus) -> Delivery:
        value = orjson.dumps(update.model_dump(mode="json"))
        future = await self.producer.send(
            self.kafka.updates_topic, value, key=update.site_id.encode()
        )
        return Delivery([future], 0)


async def _periodic_catchup(pump: _Pump, interval_s: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
        if not stop.is_set():
            pump.request_catchup("periodic")


def _install_reconnect_signal(source: RealtimeSource) -> bool:
    try:
        asyncio.get_running_loop().add_signal_handler(
            signal.SIGHUP, source.request_reconnect, "SIGHUP"
        )
    except (NotImplementedError, RuntimeError, ValueError):
        return False
    return True


async def run_realtime_ingest(
    url: str,
    key: str,
    kafka: KafkaSettings,
    options: RealtimeIngestSettings,
    stop: asyncio.Event,
    *,
    access_token_file: str | None = None,
    token_source: TokenSource | None = None,
    progress: RealtimeProgress | None = None,
    readiness: Readiness | None = None,
    reconnect: ReconnectSettings | None = None,
) -> RealtimeProgress:
    """Run until ``stop`` is set. A user JWT comes from ``token_source`` or ``access_token_file``."""
    progress = progress or RealtimeProgress()
    readiness = readiness or Readiness()
    bootstrap = require(kafka.bootstrap_servers, "KAFKA_BOOTSTRAP_SERVERS", "to publish changes")
    await ensure_project_topics(bootstrap, kafka)
    source_of_tokens = token_source or (
        file_token_source(access_token_file) if access_token_file else None
    )
    keeper = (
        TokenKeeper(source_of_tokens, options.token_refresh_margin_s) if source_of_tokens else None
    )
    supabase = await acreate_client(url, key)
    rest = supabase.postgrest
    if keeper is not None:
        rest.auth(await keeper.current())
    producer = make_producer(bootstrap, options.send_timeout_s)
    await producer.start()
    kafka_link = DependencyLink(COMPONENT, "kafka", readiness, log)
    policy = (reconnect or ReconnectSettings()).policy()
    pump = _Pump(
        producer=producer,
        kafka=kafka,
        options=options,
        rest=rest,
        progress=progress,
        readiness=readiness,
        bootstrap=bootstrap,
        kafka_link=kafka_link,
        reconnect=policy,
    )

    def on_status(status: Status, detail: str | None, generation: int) -> None:
        transition = progress.tracker.record(status, generation, detail)
        pump.status(transition)
        if status == "LIVE":
            pump.request_catchup("subscribed")

    source = RealtimeSource(
        f"{url.rstrip('/')}/realtime/v1",
        key,
        options,
        on_change=pump.push,
        on_status=on_status,
        keeper=keeper,
    )

    async def apply_token(token: str) -> None:
        rest.auth(token)
        await source.set_auth(token)

    pump_stop = asyncio.Event()
    pump_task = asyncio.create_task(pump.run(pump_stop), name="realtime-pump")
    helpers = [
        asyncio.create_task(source.run(stop), name="realtime-source"),
        asyncio.create_task(
            _periodic_catchup(pump, options.catchup_interval_s, stop), name="realtime-catchup"
        ),
        asyncio.create_task(
            watch_kafka(bootstrap, kafka_link, policy, stop),
            name="kafka-watch",
        ),
    ]
    if keeper is not None:
        helpers.append(asyncio.create_task(keeper.run(apply_token, stop), name="realtime-token"))
    signal_installed = _install_reconnect_signal(source)
    stopped = asyncio.create_task(stop.wait())
    failure: BaseException | None = None
    try:
        done, _ = await asyncio.wait(
            [stopped, pump_task, *helpers], return_when=asyncio.FIRST_COMPLETED
        )
        for task in done:
            if task is not stopped and not task.cancelled() and task.exception() is not None:
                failure = task.exception()
                log.error("realtime ingest task failed", task=task.get_name(), error=str(failure))
    finally:
        stop.set()
        if signal_installed:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        _, pending = await asyncio.wait(helpers, timeout=SHUTDOWN_WAIT_S)
        for task in pending:
            task.cancel()
        await asyncio.gather(*helpers, stopped, return_exceptions=True)
        on_status("OFFLINE", "ingest stopped", source.generation)
        pump_stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pump_task, timeout=SHUTDOWN_WAIT_S)
        await pump.producer.stop()
    if failure is not None:
        raise failure
    log.info(
        "realtime ingest stopped",
        pushes=progress.pushes,
        catchup_rows=progress.catchup_rows,
        acked=progress.changes_acked,
        rejected=progress.rejected,
        rejected_acked=progress.rejected_acked,
    )
    return progress
