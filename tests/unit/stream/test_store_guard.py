"""A store behind its committed changelog is brought up before a batch reads it; one ahead is
rebuilt from the whole changelog (``stream.store_guard``)."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka.structs import TopicPartition

from workers.kafka.changelog_reading import ChangelogRecord
from workers.stream.store_guard import StoreGuard, store_verdict


def test_verdicts() -> None:
    assert store_verdict(None, None) == "current"
    assert store_verdict(7, 7) == "current"
    assert store_verdict(None, 3) == "behind"
    assert store_verdict(2, 3) == "behind"
    assert store_verdict(4, 3) == "ahead"
    assert store_verdict(0, None) == "ahead"


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
    return StoreGuard(stores, ("rows", "days"), broker.last_offsets, broker.read_range, written)


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
