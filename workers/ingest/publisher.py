"""Batched publishing of changes to ``supabase_changes`` and rejects to the quarantine topic.

Changes are buffered per site and sent as ``ChangeBatch`` envelopes keyed by ``site_id``, so a
site's changes stay in commit order in one partition. ``publish`` returns a ``Delivery`` that
resolves once Kafka acknowledged every record it covers; sources confirm their position (LSN,
high-water mark) only after that, which makes delivery at-least-once with no gap.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas.changes import ChangeRecord, RejectedRecord
from workers.changes.keying import Rejection
from workers.ingest.settings import DEFAULT_SEND_TIMEOUT_S
from workers.kafka.clients import new_producer
from workers.kafka.codec import encode_batch, encode_change, encode_rejected
from workers.observability.metrics import REJECTS
from workers.resilience.backoff import Backoff, BackoffPolicy
from workers.resilience.link import DependencyLink
from workers.settings import KafkaSettings

log = structlog.get_logger("pulse.ingest.publisher")

MAX_CHANGES_PER_MESSAGE = 500


def acknowledged(future: asyncio.Future[Any]) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None


@dataclass
class Delivery:
    """Acknowledgement of one published buffer: ``futures`` are all its sends, ``changes`` the
    changes it carried, and ``rejects`` each quarantine record with its own send, so the ones
    Kafka did not acknowledge can be sent again."""

    futures: list[asyncio.Future[Any]]
    changes: int
    rejects: list[tuple[RejectedRecord, asyncio.Future[Any]]] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.rejects)

    def done(self) -> bool:
        return all(future.done() for future in self.futures)

    async def wait(self) -> None:
        if self.futures:
            await asyncio.gather(*self.futures)

    def unacknowledged_rejects(self) -> list[RejectedRecord]:
        return [record for record, future in self.rejects if not acknowledged(future)]


@dataclass
class ChangePublisher:
    producer: AIOKafkaProducer
    settings: KafkaSettings
    max_changes_per_message: int = MAX_CHANGES_PER_MESSAGE
    _by_site: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _rejected: list[RejectedRecord] = field(default_factory=list)
    _buffered: int = 0

    @property
    def buffered(self) -> int:
        return self._buffered + len(self._rejected)

    def add(self, change: ChangeRecord) -> None:
        self.add_encoded(change.site_id, encode_change(change))

    def add_encoded(self, site_id: str, change: dict[str, Any]) -> None:
        self._by_site.setdefault(site_id, []).append(change)
        self._buffered += 1

    def resend(self, rejects: list[RejectedRecord]) -> None:
        """Quarantine again records an earlier send did not get acknowledged; they were counted
        when first refused."""
        self._rejected.extend(rejects)

    def reject(self, rejection: Rejection) -> None:
        """Quarantine what the ingest refused, counted in ``pulse_rejects_total``."""
        REJECTS.labels("ingest", rejection.reason).inc()
        self._rejected.append(
            RejectedRecord(
                reason=rejection.reason,
                detail=rejection.detail,
                stage="ingest",
                event_id=rejection.event_id,
                table=rejection.table,
                payload=rejection.payload,
            )
        )

    async def publish(self) -> Delivery:
        """Hand every buffered record to the producer; the returned delivery resolves on ack."""
        futures: list[asyncio.Future[Any]] = []
        rejects: list[tuple[RejectedRecord, asyncio.Future[Any]]] = []
        changes = self._buffered
        step = self.max_changes_per_message
        for site_id, site_changes in self._by_site.items():
            key = site_id.encode()
            for start in range(0, len(site_changes), step):
                value = encode_batch(site_id, site_changes[start : start + step])
                futures.append(
                    await self.producer.send(self.settings.changes_topic, value, key=key)
                )
        for record in self._rejected:
            key = (record.site_id or record.table or "unknown").encode()
            future = await self.producer.send(
                self.settings.rejected_topic, encode_rejected(record), key=key
            )
            futures.append(future)
            rejects.append((record, future))
        self._by_site = {}
        self._rejected = []
        self._buffered = 0
        return Delivery(futures, changes, rejects)


def make_producer(
    bootstrap: str, send_timeout_s: float = DEFAULT_SEND_TIMEOUT_S
) -> AIOKafkaProducer:
    """A producer whose sends fail once they waited ``send_timeout_s`` for a partition leader.

    aiokafka retries an idempotent producer's sends for as long as a leader is known, so only a
    partition the cluster names no leader for (a broker's controlled shutdown) fails them.
    """
    return new_producer(
        bootstrap,
        linger_ms=5,
        max_batch_size=1_048_576,
        max_request_size=8_388_608,
        request_timeout_ms=round(send_timeout_s * 1000),
    )


async def started_producer(
    bootstrap: str,
    send_timeout_s: float,
    link: DependencyLink,
    policy: BackoffPolicy,
    stop: asyncio.Event,
) -> AIOKafkaProducer | None:
    """A new started producer, tried again with backoff while Kafka refuses; None when asked to
    stop first."""
    backoff = Backoff(policy)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), backoff.next_delay())
        if stop.is_set():
            break
        producer = make_producer(bootstrap, send_timeout_s)
        try:
            await producer.start()
        except KafkaError as exc:
            await producer.stop()
            link.lost(exc)
            log.debug("kafka reconnect attempt failed", attempts=backoff.attempts)
            continue
        link.restored()
        return producer
    return None
