"""Property: any interleaving of duplicates, snapshot re-reads and replays of a change sequence
gives exactly the KPIs that the SQL definitions compute from the final database."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.stream.simulation import DictState, Simulation, envelope, make_processor

SITES = ["site-a", "site-b", "site-c"]


def partition_of(site: str) -> int:
    return SITES.index(site) % 2


def deliveries(sim: Simulation, rng: random.Random, shuffle: bool) -> list[dict[str, Any]]:
    """The original changes, plus exact duplicates, snapshot re-reads and whole replays, mixed."""
    stream = list(sim.changes)
    extras = [rng.choice(sim.changes) for _ in range(len(sim.changes) // 3)]
    extras += rng.sample(sim.snapshots, min(len(sim.snapshots), len(sim.changes) // 4))
    for extra in extras:
        stream.insert(rng.randrange(len(stream) + 1), extra)
    if rng.random() < 0.3:
        stream += sim.changes  # a replay from offset 0
    if shuffle:
        rng.shuffle(stream)
    return stream


def run(sim: Simulation, stream: list[dict[str, Any]], rng: random.Random) -> DictState:
    state = DictState()
    processor = make_processor(sim)
    position = 0
    while position < len(stream):
        size = rng.randrange(1, 40)
        chunk = stream[position : position + size]
        position += size
        messages = []
        by_site: dict[str, list[dict[str, Any]]] = {}
        for change in chunk:
            by_site.setdefault(change["site_id"], []).append(change)
        for site, changes in by_site.items():
            messages.append((partition_of(site), envelope(changes)))
        output = asyncio.run(processor.process(messages, state))
        # Every change of every batch has exactly one outcome, however it was delivered.
        assert output.counts.tally().consumed == len(chunk)
        assert output.counts.tally().unaccounted == 0
        state.persist(output)
    return state


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), transactions=st.integers(5, 60), shuffle=st.booleans())
def test_duplicates_replays_and_disorder_never_change_the_kpis(
    seed: int, transactions: int, shuffle: bool
) -> None:
    rng = random.Random(seed)
    sim = Simulation(rng, SITES)
    for _ in range(transactions):
        sim.transaction(rng.randrange(1, 6))
    state = run(sim, deliveries(sim, rng, shuffle), rng)
    assert state.kpis() == sim.expected_kpis()
