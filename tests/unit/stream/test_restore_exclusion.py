"""A batch never runs on a partition while the assignment's restore of its stores does
(``StreamRunner.recovered``): a commit between the restore's reading of the changelog ends and
its check of the stores made the store look ahead of its changelog, and the restore wiped it.
Runs delivered before the recovery completes are dropped; its seek fetches them again.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace
from typing import Any

from workers.settings import KafkaSettings
from workers.stream.agents import StreamRunner
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


def run(partition: int, generation: int) -> Any:
    message = SimpleNamespace(
        partition=partition, first_offset=7, offset=7, values=[b"{}"], generation_id=generation
    )
    return SimpleNamespace(message=message)


async def test_no_batch_runs_during_the_restore_of_its_assignment() -> None:
    processor = Processor()
    app = SimpleNamespace(recovered_generation=3)
    runner = StreamRunner(
        app,  # type: ignore[arg-type]
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
    runner.continuity.reset({1: 7})
    restore = asyncio.create_task(runner.restore_stores({0, 1}, 30.0, active=True))
    await guard.running.wait()
    await runner.handle([run(1, 4)])
    assert processor.entered == []
    guard.release.set()
    assert await restore == {}
    # Faust's recovery completes the generation: runs fetched after its seek are processed.
    app.recovered_generation = 4
    with contextlib.suppress(Exception):
        await runner.handle([run(1, 4)])
    assert processor.entered == [1]
