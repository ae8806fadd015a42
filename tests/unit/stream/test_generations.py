"""Runs fetched before a rebalance are never processed after it (``StreamRunner.owns``)."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace
from typing import Any

from workers.settings import KafkaSettings
from workers.stream.agents import StreamRunner
from workers.stream.settings import StreamSettings


class FakeCheckpoint:
    def __init__(self) -> None:
        self.claimed: set[int] = set()

    async def claim(self, partitions: set[int]) -> None:
        self.claimed |= partitions

    async def release(self, partitions: set[int]) -> None:
        self.claimed -= partitions


class FailingProcessor:
    async def process(self, messages: Any, reader: Any) -> Any:
        raise AssertionError("a run of another generation was processed")


def runner() -> StreamRunner:
    return StreamRunner(
        SimpleNamespace(),  # type: ignore[arg-type]
        SimpleNamespace(),  # type: ignore[arg-type]
        FakeCheckpoint(),  # type: ignore[arg-type]
        KafkaSettings(KAFKA_BOOTSTRAP_SERVERS="unused:9092"),
        StreamSettings(),
        lookup=None,  # type: ignore[arg-type]
        processor=FailingProcessor(),  # type: ignore[arg-type]
    )


def run(partition: int, generation: int) -> Any:
    message = SimpleNamespace(
        partition=partition,
        first_offset=10,
        offset=11,
        values=[b"x", b"y"],
        generation_id=generation,
    )
    return SimpleNamespace(message=message)


async def test_only_runs_of_the_current_assignment_are_processed() -> None:
    stream = runner()
    stream.generation = 7
    stream.checkpoint.claimed.add(2)  # type: ignore[attr-defined]
    assert stream.owns(2, 7)
    assert not stream.owns(2, 6)
    assert not stream.owns(3, 7)
    # Gathered in generation 6, handed over in 7: dropped before anything reads or writes.
    await stream.handle([run(2, 6)])
    await stream.revoke({2})
    assert not stream.owns(2, 7)
    await stream.handle([run(2, 7)])


class RecordingProcessor:
    def __init__(self) -> None:
        self.batches: list[Any] = []

    async def process(self, messages: Any, reader: Any) -> Any:
        self.batches.append(messages)
        raise RuntimeError("entered")


async def test_runs_wait_for_their_assignment_s_recovery() -> None:
    # The recovery of the rebalance before may have resumed the flow while this assignment's
    # stores are still being restored: its runs are dropped, fetched again after the seek.
    processor = RecordingProcessor()
    stream = runner()
    stream.processor = processor  # type: ignore[assignment]
    stream.app = SimpleNamespace(recovered_generation=6)  # type: ignore[assignment]
    stream.generation = 7
    stream.checkpoint.claimed.add(2)  # type: ignore[attr-defined]
    await stream.handle([run(2, 7)])
    assert processor.batches == []
    stream.app.recovered_generation = 7  # type: ignore[attr-defined]
    stream.guard = SimpleNamespace(ensure_current=_current)  # type: ignore[assignment]
    stream.continuity.reset({2: 10})
    # Past the gate the batch reaches the processing (which this fake makes fail).
    with contextlib.suppress(Exception):
        await stream.handle([run(2, 7)])
    assert processor.batches[0] == [(2, b"x"), (2, b"y")]


async def _current(partition: int) -> None:
    return None
