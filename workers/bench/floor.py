"""The stream stage's floors: the worker's app with its logic taken out, over the same input.

``stream_ratio`` compares the worker with raw aiokafka. How much of the gap is the worker's own
logic, and how much the frame it runs in, is measured by running the same Faust app (fetching
in runs, the agent, publishing, changelog-first persistence) with a processor that does only:

- ``framework``: decode each envelope and publish one record per change, which is passthrough's
  job inside the worker's frame;
- ``state``: the same, plus the state I/O the design needs per change at the least: a lookup
  of its event ID in ``dedup`` and of its row in ``entities``, and a write to each, which
  persisting sends to both changelogs and stores.

No dedup, verification, versions or KPIs: re-deliveries are published like any change, so a
floor publishes more than the worker does. Values written are the dedup value the worker
writes and a fixed stand-in for the row state.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import orjson

from workers.stream.processing import (
    DEDUP,
    ENTITIES,
    BatchCounts,
    BatchOutput,
    StateReader,
    decode_envelope,
    entity_key,
    event_parts,
)
from workers.stream.rules.dedup import encode_seen

Floor = Literal["framework", "state"]
FLOORS: tuple[Floor, ...] = ("framework", "state")

# About the size of a stored row state (version, contribution, sealed flag) of the bench input.
ROW_STATE_STAND_IN = b"x" * 96


class FloorProcessor:
    """A ``Processor`` with none of the worker's logic (see the module docstring)."""

    def __init__(self, floor: Floor) -> None:
        self._with_state = floor == "state"

    async def process(
        self, messages: Iterable[tuple[int, bytes]], reader: StateReader
    ) -> BatchOutput:
        counts = BatchCounts()
        writes: dict[tuple[str, int], dict[bytes, bytes | None]] = {}
        updates: list[tuple[str, bytes]] = []
        with_state = self._with_state
        for partition, raw in messages:
            site, changes = decode_envelope(raw)
            if with_state:
                seen = writes.setdefault((DEDUP, partition), {})
                rows = writes.setdefault((ENTITIES, partition), {})
                seen_get = reader.getter(DEDUP, partition)
                rows_get = reader.getter(ENTITIES, partition)
            for change in changes:
                counts.changes += 1
                counts.tables[str(change["table"])] += 1
                if with_state:
                    event_id = change["event_id"]
                    row = change["old_record"] if change["op"] == "DELETE" else change["record"]
                    event_key = event_id.encode()
                    row_key = entity_key(change["table"], row)
                    seen_get(event_key)
                    rows_get(row_key)
                    seen[event_key] = encode_seen(event_parts(event_id)[0], change.get("lsn"))
                    rows[row_key] = ROW_STATE_STAND_IN
                counts.applied += 1
                counts.admitted += 1
                updates.append((site, orjson.dumps(change)))
        return BatchOutput(
            updates=updates,
            rejects=[],
            writes=writes,
            counts=counts,
            newest_commit_ms={},
            days_touched=set(),
        )
