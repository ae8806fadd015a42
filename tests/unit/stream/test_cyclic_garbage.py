"""The worker's batches leave no reference cycles, so the collector can be kept quiet."""

from __future__ import annotations

import random

from tests.unit.cyclic_garbage import cyclic_garbage
from tests.unit.stream.simulation import DictState, Simulation, envelope, lookup_from
from workers.stream.processing import BatchProcessor


async def test_processed_batches_leave_no_cyclic_garbage() -> None:
    sim = Simulation(random.Random(3), ["site-a", "site-b", "site-c"])
    for _ in range(200):
        sim.transaction(3)
    state = DictState()
    processor = BatchProcessor(lookup_from(sim.session_sites()))
    with cyclic_garbage() as cyclic:
        for start in range(0, len(sim.changes), 40):
            messages = [(0, envelope([c])) for c in sim.changes[start : start + 40]]
            output = await processor.process(messages, state)
            state.persist(output)
    assert state.data, "nothing was processed"
    assert cyclic == []
