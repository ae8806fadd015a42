"""The worker's batches leave no reference cycles, so the collector can be kept quiet."""

from __future__ import annotations

import gc
import random

from tests.unit.stream.simulation import DictState, Simulation, envelope, lookup_from
from workers.stream.collector import YOUNG_THRESHOLD, quiet_collector
from workers.stream.processing import BatchProcessor


def ours(obj: object) -> bool:
    module = getattr(type(obj), "__module__", "") or ""
    if module.startswith("workers."):
        return True
    return callable(obj) and (getattr(obj, "__module__", "") or "").startswith("workers.")


async def test_processed_batches_leave_no_cyclic_garbage() -> None:
    sim = Simulation(random.Random(3), ["site-a", "site-b", "site-c"])
    for _ in range(200):
        sim.transaction(3)
    state = DictState()
    processor = BatchProcessor(lookup_from(sim.session_sites()))
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for start in range(0, len(sim.changes), 40):
            messages = [(0, envelope([c])) for c in sim.changes[start : start + 40]]
            output = await processor.process(messages, state)
            state.persist(output)
        gc.collect()
        cyclic = [obj for obj in gc.garbage if ours(obj)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert state.data, "nothing was processed"
    assert cyclic == []


def test_quiet_collector_freezes_and_raises_the_young_threshold() -> None:
    before = gc.get_threshold()
    try:
        quiet_collector()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
