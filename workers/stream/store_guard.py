"""Before a batch reads a partition's stores, each must hold its committed changelog exactly up
to its last record.

A batch reads a row's stored state and the site's stored day aggregates, and writes new absolute
values. A store that lags its changelog when a batch reads it makes that batch count a change a
second time, or lose one, and the batch's transaction commits the error for good.

The stores of an assignment's partitions are restored by ``restore_assigned``, called from
Faust's recovery before Faust's own restore (which then has nothing left to read): once the
partitions' producers have fenced their last owners, so that nobody else writes there, it reads
each changelog from its store's offset to its last committed record, in fetched batches, and
checks the partitions it brought to the end. This guard checks the stores instead of trusting
any restore, and checks that nothing but this worker's own commits moves a store afterwards:

- at a partition's first batch in an assignment, each store's persisted offset (kept by Faust
  under a key of the store, written in the same write batch as the data) must be the offset of
  the last committed record of its changelog, read from the broker after the fence (by
  ``restore_assigned``, or then);
- at every later batch, it must be the offset that this worker's last commit left there.

A store behind is brought up to date from its changelog first (the records a restore would
apply, in the same order), and the error log line and ``pulse_store_repairs_total`` record it.
A store ahead of its committed changelog holds writes that nobody committed, which no replay can
take back: it is emptied and rebuilt from the whole changelog. (Stopping the worker instead would
loop: the restore at the next start reads from the same offset and finds the store ahead again.)
Once checked, the partition is in ``written``: from then on only this worker's commits write its
stores, and Faust's restore and standby service skips it (``faust_adapter.not_written_here``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import structlog
from aiokafka.structs import TopicPartition

from workers.kafka.changelog_reading import ApplyBatch, ChangelogRecord
from workers.observability.metrics import STORE_REPAIRS

log = structlog.get_logger("pulse.stream")

Verdict = Literal["current", "behind", "ahead"]
LastOffsets = Callable[[Sequence[TopicPartition]], Awaitable[dict[TopicPartition, int | None]]]
ReadRange = Callable[[TopicPartition, int, int], Awaitable[list[ChangelogRecord]]]
ReadBatches = Callable[
    [Mapping[TopicPartition, tuple[int, int]], ApplyBatch, float | None],
    Awaitable[set[TopicPartition]],
]


@dataclass(frozen=True)
class Restored:
    """What a restore found and did: each changelog partition's last committed record's offset
    (None: none), those not read to it, and the records applied."""

    lasts: dict[TopicPartition, int | None]
    unfinished: set[TopicPartition]
    applied: int


@dataclass(frozen=True)
class Restore:
    """A store to bring up to its changelog's last committed record: from ``first`` (after
    emptying it when ``clear``) to ``last``."""

    first: int
    last: int
    clear: bool


def restore_of(stored: int | None, last: int | None) -> Restore | None:
    """What a store at persisted offset ``stored`` needs against a changelog whose last committed
    record is at ``last`` (None: nothing). One ahead holds writes nobody committed: only a
    rebuild from the first record takes them back."""
    verdict = store_verdict(stored, last)
    if verdict == "current":
        return None
    if verdict == "ahead":
        return Restore(0, -1 if last is None else last, clear=True)
    assert last is not None
    return Restore(0 if stored is None else stored + 1, last, clear=False)


def store_verdict(stored: int | None, last: int | None) -> Verdict:
    """How a store at persisted offset ``stored`` stands against a changelog whose last committed
    record is at ``last`` (None: no offset kept, no record)."""
    if stored == last:
        return "current"
    if stored is None or (last is not None and stored < last):
        return "behind"
    return "ahead"


class Stores(Protocol):
    def changelog_topic(self, table: str) -> str: ...

    def persisted(self, table: str, partition: int) -> int | None: ...

    def replay(
        self, table: str, partition: int, records: Sequence[ChangelogRecord], last: int
    ) -> None: ...

    def clear(self, table: str, partition: int) -> None: ...


class StoreGuard:
    def __init__(
        self,
        stores: Stores,
        tables: Iterable[str],
        last_offsets: LastOffsets,
        read_range: ReadRange,
        read_batches: ReadBatches,
        written: set[int] | None = None,
    ) -> None:
        self.stores = stores
        # Shared with the stores: the partitions checked in this assignment.
        self.written = set() if written is None else written
        self.tables = tuple(tables)
        self._last_offsets = last_offsets
        self._read_range = read_range
        self._read_batches = read_batches
        # (table, partition) -> the offset its store must be at; absent until checked against
        # the broker in the current assignment.
        self.expected: dict[tuple[str, int], int | None] = {}

    def forget(self) -> None:
        """A new assignment: every partition is checked against the broker again."""
        self.expected.clear()
        self.written.clear()

    def applied(self, table: str, partition: int, offset: int) -> None:
        """This worker's commit wrote its store up to ``offset``."""
        if (table, partition) in self.expected:
            self.expected[(table, partition)] = offset

    def changelog_partitions(
        self, partitions: Iterable[int]
    ) -> dict[tuple[str, int], TopicPartition]:
        """The changelog partition of each (table, partition)."""
        return {
            (table, partition): TopicPartition(self.stores.changelog_topic(table), partition)
            for table in self.tables
            for partition in sorted(set(partitions))
        }

    async def restore_assigned(
        self,
        partitions: Iterable[int],
        deadline: float | None = None,
        current: Callable[[], bool] = lambda: True,
    ) -> Restored:
        """Bring the stores of claimed partitions to the end of their committed changelogs
        (``restore``).

        Run once the partitions' producers have fenced their last owners, before Faust's own
        restore reads the stores' offsets: it then finds them current and reads nothing. The
        partitions whose stores all reached the end count as checked (``expected``,
        ``written``), as after ``ensure_current``, unless ``current()`` says the assignment
        changed meanwhile.
        """
        partitions = set(partitions)
        restored = await self.restore(partitions, deadline)
        if not current():
            return restored
        by_partition: dict[int, list[tuple[str, TopicPartition]]] = {}
        for (table, partition), tp in self.changelog_partitions(partitions).items():
            by_partition.setdefault(partition, []).append((table, tp))
        for partition, tables in by_partition.items():
            if any(tp in restored.unfinished for _table, tp in tables):
                continue
            for table, tp in tables:
                self.expected[(table, partition)] = restored.lasts[tp]
            self.written.add(partition)
        return restored

    async def restore(self, partitions: Iterable[int], deadline: float | None = None) -> Restored:
        """Read the partitions' changelogs from each store's offset to their last committed
        record, all of them at once, and write each fetch into its store in one write batch
        with the offset of its last record: a restore cut short (``deadline``,
        ``time.monotonic``) leaves a store behind, never ahead. A store ahead is emptied and
        rebuilt.
        """
        tps = self.changelog_partitions(partitions)
        if not tps:
            return Restored({}, set(), 0)
        lasts = await self._last_offsets(list(tps.values()))
        restores: dict[tuple[str, int], Restore] = {}
        for (table, partition), tp in tps.items():
            stored = self.stores.persisted(table, partition)
            restore = restore_of(stored, lasts[tp])
            if restore is None:
                continue
            if restore.clear:
                # The same defect as in ``ensure_current``; a store behind is no defect here:
                # one the last owner did not write (a standby, a wiped or lost directory).
                log.error(
                    "a table store is ahead of its committed changelog; rebuilding it",
                    table=table,
                    partition=partition,
                    store_offset=stored,
                    changelog_last=lasts[tp],
                )
                STORE_REPAIRS.labels(table, "assigned").inc()
                self.stores.clear(table, partition)
            restores[(table, partition)] = restore
        by_tp = {tps[key]: key for key in restores}
        applied = 0

        def apply(tp: TopicPartition, records: Sequence[ChangelogRecord]) -> None:
            nonlocal applied
            table, partition = by_tp[tp]
            self.stores.replay(table, partition, records, records[-1][0])
            applied += len(records)

        unfinished = await self._read_batches(
            {tps[key]: (r.first, r.last) for key, r in restores.items() if r.first <= r.last},
            apply,
            deadline,
        )
        for key, restore in restores.items():
            if restore.last >= 0 and tps[key] not in unfinished:
                # The last record may be one a restore does not apply (no key).
                self.stores.replay(*key, [], restore.last)
        return Restored(lasts, unfinished, applied)

    async def ensure_current(self, partition: int) -> int:
        """Check (and bring up to date) the partition's stores; returns how many were not."""
        found = "later"
        if any((table, partition) not in self.expected for table in self.tables):
            tps = {
                table: TopicPartition(self.stores.changelog_topic(table), partition)
                for table in self.tables
            }
            lasts = await self._last_offsets(list(tps.values()))
            for table, tp in tps.items():
                self.expected[(table, partition)] = lasts[tp]
            found = "assigned"
        repaired = 0
        for table in self.tables:
            last = self.expected[(table, partition)]
            stored = self.stores.persisted(table, partition)
            verdict = store_verdict(stored, last)
            if verdict == "current":
                continue
            log.error(
                "a table store is not at the end of its committed changelog",
                table=table,
                partition=partition,
                store_offset=stored,
                changelog_last=last,
                verdict=verdict,
                found=found,
            )
            STORE_REPAIRS.labels(table, found).inc()
            first = 0 if stored is None else stored + 1
            if verdict == "ahead":
                self.stores.clear(table, partition)
                first = 0
            if last is not None:
                tp = TopicPartition(self.stores.changelog_topic(table), partition)
                records = await self._read_range(tp, first, last)
                self.stores.replay(table, partition, records, last)
            repaired += 1
        self.written.add(partition)
        return repaired
