"""The bench's floor processors: the worker's frame with none of its logic."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import orjson

from tests.unit.stream.simulation import DictState, Simulation, envelope
from workers.bench.floor import FloorProcessor
from workers.stream.processing import DEDUP, ENTITIES, BatchOutput


class CountingReader(DictState):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[str, bytes]] = []

    def getter(self, table: str, partition: int) -> Callable[[bytes], bytes | None]:
        store = super().getter(table, partition)

        def get(key: bytes) -> bytes | None:
            self.reads.append((table, key))
            return store(key)

        return get


def simulated_changes() -> list[dict[str, Any]]:
    sim = Simulation(random.Random(11), ["site-a", "site-b"])
    for _ in range(30):
        sim.transaction(5)
    # A re-delivery: the floor has no dedup, so it is published again.
    return sim.changes + sim.changes[:3]


def run(floor: str, changes: list[dict[str, Any]]) -> tuple[BatchOutput, CountingReader]:
    reader = CountingReader()
    messages = [
        (0 if change["site_id"] == "site-a" else 1, envelope([change])) for change in changes
    ]
    output = asyncio.run(FloorProcessor(floor).process(messages, reader))
    return output, reader


def row_key(change: dict[str, Any]) -> bytes:
    row = change["old_record"] if change["op"] == "DELETE" else change["record"]
    return f"{change['table']}:{row['id']}".encode()


def test_the_framework_floor_publishes_each_change_and_touches_no_state() -> None:
    changes = simulated_changes()
    output, reader = run("framework", changes)
    assert [orjson.loads(value) for _site, value in output.updates] == changes
    assert [site for site, _value in output.updates] == [c["site_id"] for c in changes]
    assert output.counts.changes == len(changes)
    assert sum(output.counts.tables.values()) == len(changes)
    assert output.writes == {}
    assert reader.reads == []


def test_the_state_floor_reads_and_writes_each_changes_id_and_row_once() -> None:
    changes = simulated_changes()
    output, reader = run("state", changes)
    assert len(output.updates) == output.counts.changes == len(changes)
    expected_reads = [
        read
        for change in changes
        for read in ((DEDUP, change["event_id"].encode()), (ENTITIES, row_key(change)))
    ]
    assert reader.reads == expected_reads
    written = {
        table: {
            key
            for (name, _partition), entries in output.writes.items()
            if name == table
            for key in entries
        }
        for table in (DEDUP, ENTITIES)
    }
    assert written[DEDUP] == {change["event_id"].encode() for change in changes}
    assert written[ENTITIES] == {row_key(change) for change in changes}
    assert all(
        value is not None for entries in output.writes.values() for value in entries.values()
    )
