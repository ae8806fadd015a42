"""The order in which ``Checkpoint.commit`` makes a batch durable, and what a failure leaves."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from aiokafka.structs import TopicPartition
from prometheus_client import REGISTRY

from workers.stream.checkpoint import Checkpoint, ProducerOptions
from workers.stream.tables import Writes


class FakeBatch:
    def __init__(self) -> None:
        self.records: list[tuple[Any, Any]] = []

    def append(self, *, key: Any, value: Any, timestamp: Any) -> int:
        self.records.append((key, value))
        return len(self.records)


class FakeMetadata:
    def __init__(self, offset: int) -> None:
        self.offset = offset


class FakeProducer:
    def __init__(self, journal: list[str], fail_on: str | None = None) -> None:
        self.journal = journal
        self.fail_on = fail_on
        self.next_offset = 100

    def _step(self, name: str) -> None:
        self.journal.append(name)
        if name == self.fail_on:
            raise RuntimeError(f"{name} failed")

    async def begin_transaction(self) -> None:
        self._step("begin")

    def create_batch(self) -> FakeBatch:
        return FakeBatch()

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> Any:
        self._step(f"send {topic}[{partition}] x{len(batch.records)}")
        future: asyncio.Future[FakeMetadata] = asyncio.get_running_loop().create_future()
        future.set_result(FakeMetadata(self.next_offset))
        self.next_offset += len(batch.records)
        return future

    async def send_offsets_to_transaction(
        self, offsets: Mapping[TopicPartition, int], group_id: str
    ) -> None:
        (tp, offset), *_ = offsets.items()
        self._step(f"offsets {tp.topic}[{tp.partition}]={offset} for {group_id}")

    async def commit_transaction(self) -> None:
        self._step("commit")

    async def abort_transaction(self) -> None:
        self.journal.append("abort")

    async def start(self) -> None:
        self.journal.append("start")

    async def stop(self) -> None:
        self.journal.append("stop")


class FakeState:
    def __init__(self, journal: list[str]) -> None:
        self.journal = journal

    def changelog_records(self, writes: Writes) -> dict[tuple[str, int], Iterable[Any]]:
        return {(f"app-{table}-changelog", p): e.items() for (table, p), e in writes.items()}

    def apply(self, writes: Writes, offsets: Mapping[tuple[str, int], int]) -> None:
        self.journal.append(f"apply {sorted(offsets.items())}")


def unclaimed(journal: list[str], *, transactional: bool, fail_on: str | None = None) -> Checkpoint:
    """A checkpoint whose producers record their calls in ``journal``."""

    async def group_commit(offsets: dict[TopicPartition, int]) -> None:
        if transactional:
            raise AssertionError("a transactional checkpoint commits offsets in the transaction")
        journal.append(f"group commit {offsets}")

    def make_producer(transactional_id: str | None) -> Any:
        journal.append(f"producer {transactional_id}")
        return FakeProducer(journal, fail_on)

    return Checkpoint(
        FakeState(journal),  # type: ignore[arg-type]
        ProducerOptions("unused:9092", request_timeout_ms=1000),
        "app",
        "changes",
        transactional=transactional,
        commit_offsets=group_commit,
        make_producer=make_producer,
    )


def commits_so_far() -> float:
    return REGISTRY.get_sample_value("pulse_commits_total") or 0.0


async def checkpoint(journal: list[str], *, fail_on: str | None = None) -> Checkpoint:
    """A transactional checkpoint that has claimed source partition 3."""
    cp = unclaimed(journal, transactional=True, fail_on=fail_on)
    await cp.claim([3])
    assert journal[0] == "producer app-changes-3"
    journal.clear()
    return cp


async def test_a_batch_is_sent_offset_and_committed_in_one_transaction_before_the_stores() -> None:
    journal: list[str] = []
    commits = commits_so_far()
    await (await checkpoint(journal)).commit(
        3,
        {("updates", 1): [(b"site", b"u1"), (b"site", b"u2")]},
        {("dedup", 3): {b"id": b"1"}},
        42,
    )
    assert journal == [
        "begin",
        "send updates[1] x2",
        "send app-dedup-changelog[3] x1",
        "offsets changes[3]=42 for app",
        "commit",
        "apply [(('app-dedup-changelog', 3), 102), (('updates', 1), 100)]",
    ]
    assert commits_so_far() == commits + 1


@pytest.mark.parametrize("step", ["send updates[1] x1", "commit"])
async def test_a_failed_commit_is_not_counted(step: str) -> None:
    commits = commits_so_far()
    with pytest.raises(RuntimeError):
        await (await checkpoint([], fail_on=step)).commit(
            3, {("updates", 1): [(b"s", b"u")]}, {}, 7
        )
    assert commits_so_far() == commits


@pytest.mark.parametrize("step", ["send updates[1] x1", "offsets changes[3]=7 for app", "commit"])
async def test_a_failure_before_the_commit_aborts_and_leaves_the_stores_alone(step: str) -> None:
    journal: list[str] = []
    with pytest.raises(RuntimeError):
        await (await checkpoint(journal, fail_on=step)).commit(
            3, {("updates", 1): [(b"site", b"u")]}, {("dedup", 3): {b"id": b"1"}}, 7
        )
    assert journal[-1] == "abort"
    assert not any(entry.startswith("apply") for entry in journal)


async def test_work_without_a_source_offset_commits_no_offset() -> None:
    journal: list[str] = []
    await (await checkpoint(journal)).commit(3, {("updates", 1): [(b"site", b"chart")]}, {}, None)
    assert journal == ["begin", "send updates[1] x1", "commit", "apply [(('updates', 1), 100)]"]


async def test_a_partition_not_claimed_is_refused() -> None:
    with pytest.raises(RuntimeError, match="not assigned"):
        await (await checkpoint([])).commit(5, {}, {}, 1)


async def test_a_released_partition_is_refused_on_both_paths() -> None:
    journal: list[str] = []
    transactional = await checkpoint(journal)
    await transactional.release([3])
    assert transactional.claimed == set()
    with pytest.raises(RuntimeError, match="not assigned"):
        await transactional.commit(3, {}, {}, 1)

    shared = unclaimed(journal, transactional=False)
    await shared.claim([1, 2])
    await shared.release([1])
    assert shared.claimed == {2}
    with pytest.raises(RuntimeError, match="not assigned"):
        await shared.commit(1, {}, {}, 1)
