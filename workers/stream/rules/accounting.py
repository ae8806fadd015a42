"""Committed per-partition counts: what became of every change the worker consumed.

Each consumed change ends in exactly one outcome: admitted (applied, or a site row), stale (an
older version than the stored one), a duplicate (an event ID seen before), or rejected (to the
quarantine topic). In-process counters die with a killed worker and count batches whose
transaction was aborted, so they cannot prove that nothing was lost or done twice. A
``Tally`` per source partition is written with each batch's state, in the same transaction, so
the committed tallies count every change on the topic exactly once, whichever worker did it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import orjson

# Stored in the ``days`` table; its other keys are ``site|day``, and no site ID starts with NUL.
TALLY_KEY = b"\x00pulse-tally"


@dataclass(frozen=True)
class Tally:
    consumed: int = 0
    admitted: int = 0
    stale: int = 0
    duplicates: int = 0
    rejected: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.consumed + other.consumed,
            self.admitted + other.admitted,
            self.stale + other.stale,
            self.duplicates + other.duplicates,
            self.rejected + other.rejected,
        )

    @property
    def unaccounted(self) -> int:
        """Consumed changes with no outcome (negative: outcomes counted twice); 0 when exact."""
        return self.consumed - self.admitted - self.stale - self.duplicates - self.rejected

    def to_bytes(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_bytes(cls, raw: bytes | None) -> Tally:
        return cls() if raw is None else cls(**orjson.loads(raw))
