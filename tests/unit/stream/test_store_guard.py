"""A store behind its committed changelog is brought up before a batch reads it; one ahead is
rebuilt from the whole changelog; at assignment every store is restored fetch by fetch
(``stream.store_guard``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiokafka.structs import TopicPartition

from workers.kafka.changelog_reading import ApplyBatch, ChangelogRecord
from workers.stream.store_guard import Restore, StoreGuard, restore_of, store_verdict


def test_verdicts() -> None:
    assert store_verdict(None, None) == "current"
    assert store_verdict(7, 7) == "current"
    assert store_verdict(None, 3) == "behind"
    assert store_verdict(2, 3) == "behind"
    assert store_verdict(4, 3) == "ahead"
    assert store_verdict(0, None) == "ahead"


def test_restores() -> None:
    assert restore_of(7, 7) is None
    assert restore_of(None, None) is None
    assert restore_of(None, 9) == Restore(0, 9, clear=False)
    assert restore_of(4, 9) == Restore(5, 9, clear=False)
    assert restore_of(11, 9) == Restore(0, 9, clear=True)
    assert restore_of(3, None) == Restore(0, -1, clear=True)


class Broker:
    """Committed changelogs: topic -> partition -> records in offset order."""

    def __init__(self) -> None:
        self.logs: dict[TopicPartition, list[ChangelogRecord]] = {}
        self.reads: list[tuple[TopicPartition, int, int]] = []

    def append(self, table: str, partition: int, key: bytes, value: bytes | None) -> int:
        log = self.logs.setdefault(TopicPartition(f"{table}-changelog", partition), [])
        # Two offsets a record: a transaction's commit marker takes the one after it.
        offset = 2 * len(log)
        log.append((offset, key, value))
        return offset

    async def last_offsets(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int | None]:
        return {tp: self.logs[tp][-1][0] if self.logs.get(tp) else None for tp in tps}

    async def read_range(self, tp: TopicPartition, first: int, last: int) -> list[ChangelogRecord]:
        self.reads.append((tp, first, last))
        return [record for record in self.logs.get(tp, []) if first <= record[0] <= last]

    async def read_batches(
        self,
        ranges: Mapping[TopicPartition, tuple[int, int]],
        apply: ApplyBatch,
        deadline: float | None,
    ) -> set[TopicPartition]:
        """Two records a fetch, the partitions' fetches interleaved; ``deadline`` counts fetch
        rounds here, and the partitions not read to their end by then are returned."""
        fetches = {
            tp: [record for record in self.logs.get(tp, []) if first <= record[0] <= last]
            for tp, (first, last) in ranges.items()
        }
        for tp, (first, last) in ranges.items():
            self.reads.append((tp, first, last))
        rounds = 0
        while any(fetches.values()) and (deadline is None or rounds < deadline):
            rounds += 1
            for tp, left in fetches.items():
                if left:
                    apply(tp, left[:2])
                    del left[:2]
        return {tp for tp, left in fetches.items() if left}


class Stores:
    def __init__(self) -> None:
        self.data: dict[tuple[str, int], dict[bytes, bytes]] = {}
        self.offsets: dict[tuple[str, int], int] = {}

    def changelog_topic(self, table: str) -> str:
        return f"{table}-changelog"

    def persisted(self, table: str, partition: int) -> int | None:
        return self.offsets.get((table, partition))

    def clear(self, table: str, partition: int) -> None:
        self.data[(table, partition)] = {}
        self.offsets.pop((table, partition), None)

    def replay(
        self, table: str, partition: int, records: Sequence[ChangelogRecord], last: int
    ) -> None:
        data = self.data.setdefault((table, partition), {})
        for _offset, key, value in records:
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        self.offsets[(table, partition)] = last


def guard(broker: Broker, stores: Stores, written: set[int] | None = None) -> StoreGuard:
    return StoreGuard(
        stores,
        ("rows", "days"),
        broker.last_offsets,
        broker.read_range,
        broker.read_batches,
        written,
    )


def committed(broker: Broker, stores: Stores, table: str, key: bytes, value: bytes | None) -> int:
    """A batch of this worker's: the changelog record, then the store, as the checkpoint does."""
    offset = broker.append(table, 0, key, value)
    stores.replay(table, 0, [(offset, key, value)], offset)
    return offset


async def test_a_store_behind_at_assignment_is_replayed_from_where_it_stopped() -> None:
    broker, stores = Broker(), Stores()
    for n in range(3):
        committed(broker, stores, "rows", b"r", b"v%d" % n)
    committed(broker, stores, "days", b"d", b"1")
    # Two more commits the store never saw (a restore that ended early), one a deletion.
    broker.append("rows", 0, b"r", b"v3")
    broker.append("rows", 0, b"s", None)
    checks = guard(broker, stores)
    assert await checks.ensure_current(0) == 1
    assert stores.data[("rows", 0)] == {b"r": b"v3"}
    assert stores.offsets[("rows", 0)] == 8
    assert broker.reads == [(TopicPartition("rows-changelog", 0), 5, 8)]
    assert await checks.ensure_current(0) == 0


async def test_a_store_moved_back_after_the_workers_own_commit_is_caught() -> None:
    broker, stores = Broker(), Stores()
    committed(broker, stores, "rows", b"r", b"old")
    checks = guard(broker, stores)
    assert await checks.ensure_current(0) == 0
    offset = broker.append("rows", 0, b"r", b"new")
    stores.replay("rows", 0, [(offset, b"r", b"new")], offset)
    checks.applied("rows", 0, offset)
    # Something else writes the older record back over the worker's commit.
    stores.replay("rows", 0, [(0, b"r", b"old")], 0)
    assert await checks.ensure_current(0) == 1
    assert stores.data[("rows", 0)] == {b"r": b"new"}


async def test_a_store_ahead_of_its_committed_changelog_is_rebuilt_from_all_of_it() -> None:
    broker, stores = Broker(), Stores()
    committed(broker, stores, "rows", b"r", b"v")
    committed(broker, stores, "rows", b"s", b"w")
    # A write nobody committed, at an offset past the changelog's last record.
    stores.replay("rows", 0, [(5, b"t", b"aborted")], 5)
    assert await guard(broker, stores).ensure_current(0) == 1
    assert stores.data[("rows", 0)] == {b"r": b"v", b"s": b"w"}
    assert stores.offsets[("rows", 0)] == 2
    assert broker.reads == [(TopicPartition("rows-changelog", 0), 0, 2)]


async def test_a_new_assignment_checks_against_the_broker_again() -> None:
    broker, stores = Broker(), Stores()
    committed(broker, stores, "rows", b"r", b"v0")
    checks = guard(broker, stores)
    assert await checks.ensure_current(0) == 0
    broker.append("rows", 0, b"r", b"v1")  # committed by another owner meanwhile
    checks.forget()
    assert await checks.ensure_current(0) == 1
    assert stores.data[("rows", 0)] == {b"r": b"v1"}


async def test_a_checked_partition_is_written_by_the_worker_alone_until_the_next_assignment() -> (
    None
):
    broker, stores = Broker(), Stores()
    committed(broker, stores, "rows", b"r", b"v0")
    written: set[int] = set()
    checks = guard(broker, stores, written)
    await checks.ensure_current(0)
    assert written == {0}
    checks.forget()
    assert written == set()


async def test_a_store_ahead_of_an_empty_changelog_is_emptied() -> None:
    broker, stores = Broker(), Stores()
    stores.replay("rows", 0, [(2, b"r", b"aborted")], 2)
    written: set[int] = set()
    assert await guard(broker, stores, written).ensure_current(0) == 1
    assert stores.data[("rows", 0)] == {}
    assert stores.persisted("rows", 0) is None
    assert written == {0}


async def test_a_wiped_store_is_restored_at_assignment_and_found_current_at_its_first_batch() -> (
    None
):
    broker, stores = Broker(), Stores()
    for partition in (0, 1):
        for n in range(5):
            broker.append("rows", partition, b"r%d" % (n % 3), b"v%d" % n)
        broker.append("rows", partition, b"r0", None)
    broker.append("days", 1, b"d", b"1")
    written: set[int] = set()
    checks = guard(broker, stores, written)
    assert (await checks.restore_assigned({0, 1})).applied == 13
    assert stores.data[("rows", 0)] == stores.data[("rows", 1)] == {b"r1": b"v4", b"r2": b"v2"}
    assert stores.offsets[("rows", 0)] == stores.offsets[("rows", 1)] == 10
    assert stores.data[("days", 1)] == {b"d": b"1"}
    assert ("days", 0) not in stores.offsets
    assert written == {0, 1}
    reads = len(broker.reads)
    assert await checks.ensure_current(0) == 0
    assert await checks.ensure_current(1) == 0
    assert len(broker.reads) == reads


async def test_a_store_behind_at_assignment_is_read_from_where_it_stopped() -> None:
    broker, stores = Broker(), Stores()
    committed(broker, stores, "rows", b"r", b"v0")
    committed(broker, stores, "days", b"d", b"1")
    broker.append("rows", 0, b"r", b"v1")
    broker.append("rows", 0, b"s", b"w")
    assert (await guard(broker, stores).restore_assigned({0})).applied == 2
    assert broker.reads == [(TopicPartition("rows-changelog", 0), 1, 4)]
    assert stores.data[("rows", 0)] == {b"r": b"v1", b"s": b"w"}
    assert stores.offsets[("rows", 0)] == 4


async def test_a_store_ahead_at_assignment_is_rebuilt_from_all_of_its_changelog() -> None:
    broker, stores = Broker(), Stores()
    committed(broker, stores, "rows", b"r", b"v")
    stores.replay("rows", 0, [(5, b"t", b"aborted")], 5)
    stores.replay("days", 0, [(3, b"d", b"aborted")], 3)
    assert (await guard(broker, stores).restore_assigned({0})).applied == 1
    assert stores.data[("rows", 0)] == {b"r": b"v"}
    assert stores.offsets[("rows", 0)] == 0
    assert stores.data[("days", 0)] == {}
    assert stores.persisted("days", 0) is None


async def test_the_last_record_sets_the_offset_even_when_a_restore_skips_it() -> None:
    broker, stores = Broker(), Stores()
    broker.append("rows", 0, b"r", b"v")
    # The broker holds a record at the last offset that a restore does not apply.
    broker.logs[TopicPartition("rows-changelog", 0)].append((2, b"s", b"w"))

    async def skipping(
        ranges: Mapping[TopicPartition, tuple[int, int]], apply: ApplyBatch, deadline: float | None
    ) -> set[TopicPartition]:
        for tp in ranges:
            apply(tp, broker.logs[tp][:1])
        return set()

    checks = StoreGuard(stores, ("rows",), broker.last_offsets, broker.read_range, skipping, set())
    assert (await checks.restore_assigned({0})).applied == 1
    assert stores.offsets[("rows", 0)] == 2


async def test_a_restore_cut_short_leaves_its_stores_behind_and_unchecked() -> None:
    broker, stores = Broker(), Stores()
    for n in range(5):
        broker.append("rows", 0, b"r%d" % n, b"v")
        broker.append("rows", 1, b"r%d" % n, b"v")
    broker.append("days", 1, b"d", b"1")
    del broker.logs[TopicPartition("rows-changelog", 1)][2:]
    written: set[int] = set()
    checks = guard(broker, stores, written)
    # One fetch round: partition 0's rows (five records) are not all read, partition 1's are.
    assert (await checks.restore_assigned({0, 1}, deadline=1)).applied == 2 + 2 + 1
    assert stores.offsets[("rows", 0)] == 2
    assert stores.offsets[("rows", 1)] == 2
    assert written == {1}
    assert ("rows", 0) not in checks.expected
    # The first batch on partition 0 checks against the broker and reads the rest.
    assert await checks.ensure_current(0) == 1
    assert stores.offsets[("rows", 0)] == 8


async def test_a_restore_that_outlives_its_assignment_marks_nothing_checked() -> None:
    broker, stores = Broker(), Stores()
    broker.append("rows", 0, b"r", b"v")
    written: set[int] = set()
    checks = guard(broker, stores, written)
    assert (await checks.restore_assigned({0}, current=lambda: False)).applied == 1
    assert stores.offsets[("rows", 0)] == 0
    assert written == set()
    assert checks.expected == {}


async def test_a_standby_restore_brings_stores_up_but_checks_nothing() -> None:
    broker, stores = Broker(), Stores()
    broker.append("rows", 3, b"r", b"v0")
    broker.append("rows", 3, b"r", b"v1")
    written: set[int] = set()
    checks = guard(broker, stores, written)
    restored = await checks.restore({3})
    assert (restored.applied, restored.unfinished) == (2, set())
    assert restored.lasts[TopicPartition("rows-changelog", 3)] == 2
    assert restored.lasts[TopicPartition("days-changelog", 3)] is None
    assert stores.data[("rows", 3)] == {b"r": b"v1"}
    assert stores.offsets[("rows", 3)] == 2
    assert written == set()
    assert checks.expected == {}


async def test_partitions_given_once_as_an_iterator_are_all_checked() -> None:
    broker, stores = Broker(), Stores()
    broker.append("rows", 0, b"r", b"v")
    written: set[int] = set()
    checks = guard(broker, stores, written)
    await checks.restore_assigned(iter([0, 1]))
    assert written == {0, 1}
