"""Reading, all run long, what the chaos verdict needs from the topics.

One consumer with no group follows, from offset 0 and read-committed, ``supabase_changes`` (every
change per partition, the distinct ones per site), the worker's ``days`` changelog (the committed
tally of each source partition, ``workers.stream.rules.accounting``) and the quarantine topic (how often
each event ID was rejected, per site). The KPI snapshots come from the demo's dashboard reader.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from schemas.changes import RejectedRecord
from workers.chaos.accounting import Observed
from workers.kafka.clients import new_consumer, partitions_of
from workers.stream.rules.accounting import TALLY_KEY, Tally

log = structlog.get_logger("pulse.chaos.observer")

POLL_TIMEOUT_MS = 200
MAX_RECORDS = 5000
TOPIC_WAIT_S = 60.0


def days_changelog(app_id: str) -> str:
    """The ``days`` table's changelog topic, where each partition's tally is committed."""
    return f"{app_id}-days-changelog"


@dataclass
class TopicObserver:
    bootstrap: str
    changes_topic: str
    rejected_topic: str
    changelog_topic: str
    on_topic: Counter[int] = field(default_factory=Counter)
    distinct: dict[str, set[tuple[str, Any]]] = field(default_factory=dict)
    tallies: dict[int, Tally] = field(default_factory=dict)
    rejections: dict[str, Counter[str]] = field(default_factory=dict)
    # The current round's changes as published, the pool re-deliveries are drawn from.
    round_sites: frozenset[str] = frozenset()
    round_changes: list[dict[str, Any]] = field(default_factory=list)

    def observed(self) -> Observed:
        return Observed(
            on_topic=dict(self.on_topic),
            distinct_by_site={site: len(keys) for site, keys in self.distinct.items()},
            tallies=dict(self.tallies),
            rejections_by_site={site: dict(times) for site, times in self.rejections.items()},
        )

    def start_round(self, site_ids: list[str]) -> None:
        self.round_sites = frozenset(site_ids)
        self.round_changes = []

    async def follow(self, ready: asyncio.Event, stop: asyncio.Event) -> None:
        consumer = new_consumer(self.bootstrap, group_id=None, auto_offset_reset="earliest")
        await consumer.start()
        try:
            assigned: list[TopicPartition] = []
            for topic in (self.changes_topic, self.rejected_topic, self.changelog_topic):
                partitions = await partitions_of(self.bootstrap, topic, wait_s=TOPIC_WAIT_S)
                if not partitions:
                    raise RuntimeError(f"topic {topic!r} has no partitions after {TOPIC_WAIT_S} s")
                assigned += [TopicPartition(topic, p) for p in sorted(partitions)]
            consumer.assign(assigned)
            await consumer.seek_to_beginning()
            ready.set()
            await self._fold(consumer, stop)
        finally:
            await consumer.stop()

    async def _fold(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=POLL_TIMEOUT_MS, max_records=MAX_RECORDS)
            for partition, records in batches.items():
                for record in records:
                    if partition.topic == self.changes_topic:
                        self._fold_changes(record)
                    elif partition.topic == self.changelog_topic:
                        self._fold_changelog(record)
                    else:
                        self._fold_rejected(record)

    def _fold_changes(self, record: ConsumerRecord[bytes, bytes]) -> None:
        if record.value is None:
            return
        changes = orjson.loads(record.value).get("changes", [])
        self.on_topic[record.partition] += len(changes)
        for change in changes:
            site = str(change.get("site_id"))
            self.distinct.setdefault(site, set()).add((change.get("event_id"), change.get("lsn")))
            if site in self.round_sites:
                self.round_changes.append(change)

    def _fold_changelog(self, record: ConsumerRecord[bytes, bytes]) -> None:
        if record.key == TALLY_KEY and record.value is not None:
            self.tallies[record.partition] = Tally.from_bytes(record.value)

    def _fold_rejected(self, record: ConsumerRecord[bytes, bytes]) -> None:
        if record.value is None:
            return
        try:
            rejected = RejectedRecord.model_validate_json(record.value)
        except ValidationError as exc:
            log.warning("undecodable quarantine record", error=str(exc)[:300])
            return
        site = rejected.site_id or "(no site)"
        key = rejected.event_id or f"(no event id) {rejected.detail}"
        self.rejections.setdefault(site, Counter())[key] += 1
