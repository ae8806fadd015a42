"""A batch never runs on a partition while the assignment's restore of its stores does
(``StreamRunner.restore_stores``): a commit between the restore's reading of the changelog ends
and its check of the stores made the store look ahead of its changelog, and the restore wiped it.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from workers.settings import KafkaSettings
from workers.stream.agents import SourceRecord, StreamRunner
from workers.stream.settings import StreamSettings
from workers.stream.store_guard import Restored


class Checkpoint:
    claimed = {0, 1}


class Guard:
    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.running = asyncio.Event()

    async def restore_assigned(self, partitions: Any, deadline: Any, current: Any) -> Restored:
        self.running.set()
        await self.release.wait()
        return Restored({}, set(), 0)

    async def ensure_current(self, partition: int) -> None:
        return None


class Processor:
    def __init__(self) -> None:
        self.entered: list[int] = []

    async def process(self, messages: Any, reader: Any) -> Any:
        self.entered.append(messages[0][0])
        raise RuntimeError("stop here: only the entry matters")


async def test_a_batch_waits_for_the_restore_of_its_partition() -> None:
    processor = Processor()
    runner = StreamRunner(
        SimpleNamespace(),  # type: ignore[arg-type]
        SimpleNamespace(),  # type: ignore[arg-type]
        Checkpoint(),  # type: ignore[arg-type]
        KafkaSettings(KAFKA_BOOTSTRAP_SERVERS="unused:9092"),
        StreamSettings(),
        lookup=None,  # type: ignore[arg-type]
        processor=processor,  # type: ignore[arg-type]
    )
    guard = Guard()
    runner.guard = guard  # type: ignore[assignment]
    runner.generation = 4
    restore = asyncio.create_task(runner.restore_stores({0, 1}, 30.0, active=True))
    await guard.running.wait()
    batch = asyncio.create_task(runner.handle_chunk([SourceRecord(1, 7, b"{}")], 4))
    await asyncio.sleep(0.05)
    assert processor.entered == []
    guard.release.set()
    assert await restore == {}
    try:
        await batch
    except Exception as exc:
        assert "only the entry matters" in repr(exc.__cause__ or exc)
    assert processor.entered == [1]
