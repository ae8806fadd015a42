"""Which faults a chaos run injects, in which order and with which timing: a pure function of the
seed.

Every kind asked for comes once, in a seeded order, before any comes again, so a short run covers
as many kinds as it has rounds and a long one covers each about equally often.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

KILL_INGEST = "kill-ingest"
KILL_WORKER_A = "kill-worker-a"
KILL_WORKER_B = "kill-worker-b"
RESTART_POSTGRES = "restart-postgres"
FREEZE_BROKER = "freeze-broker"
RESTART_BROKER = "restart-broker"
WIPE_STATE = "wipe-state"

FAULT_KINDS: tuple[str, ...] = (
    KILL_INGEST,
    KILL_WORKER_A,
    KILL_WORKER_B,
    RESTART_POSTGRES,
    FREEZE_BROKER,
    RESTART_BROKER,
    WIPE_STATE,
)
WORKERS: tuple[str, ...] = ("worker-a", "worker-b")

# Seconds of traffic per round; the fault lands inside this window, never at its very edges.
SEGMENT_S = 8.0
EARLIEST_AT_S = 1.5
LATEST_AT_S = 6.0
FREEZE_MIN_S = 10.0
FREEZE_MAX_S = 20.0


@dataclass(frozen=True)
class Fault:
    """One fault: ``kind``, ``at_s`` seconds into its round's traffic, ``worker`` for the kinds
    that hit one (the wiped one for ``wipe-state``), ``freeze_s`` for ``freeze-broker``."""

    kind: str
    at_s: float
    worker: str | None = None
    freeze_s: float | None = None

    @property
    def label(self) -> str:
        if self.kind == WIPE_STATE and self.worker is not None:
            return f"{self.kind} ({self.worker})"
        return self.kind


def parse_faults(text: str) -> tuple[str, ...]:
    """A comma-separated list of fault kinds, in the order given, each once; ValueError naming
    the unknown ones."""
    chosen: list[str] = []
    for word in (part.strip() for part in text.split(",")):
        if word and word not in chosen:
            chosen.append(word)
    unknown = [word for word in chosen if word not in FAULT_KINDS]
    if unknown:
        raise ValueError(
            f"unknown fault(s) {', '.join(unknown)}; choose from {', '.join(FAULT_KINDS)}"
        )
    if not chosen:
        raise ValueError(f"name at least one fault: {', '.join(FAULT_KINDS)}")
    return tuple(chosen)


def fault_sequence(seed: int, kinds: Sequence[str]) -> Iterator[Fault]:
    """The faults of a run with ``seed``, endless: the caller takes as many as it has time for."""
    if not kinds:
        raise ValueError("no fault kinds to draw from")
    rng = random.Random(seed)
    while True:
        order = list(kinds)
        rng.shuffle(order)
        for kind in order:
            yield _fault(rng, kind)


def _fault(rng: random.Random, kind: str) -> Fault:
    at_s = round(rng.uniform(EARLIEST_AT_S, LATEST_AT_S), 1)
    if kind == KILL_WORKER_A:
        return Fault(kind, at_s, worker=WORKERS[0])
    if kind == KILL_WORKER_B:
        return Fault(kind, at_s, worker=WORKERS[1])
    if kind == WIPE_STATE:
        return Fault(kind, at_s, worker=rng.choice(WORKERS))
    if kind == FREEZE_BROKER:
        return Fault(kind, at_s, freeze_s=round(rng.uniform(FREEZE_MIN_S, FREEZE_MAX_S), 1))
    return Fault(kind, at_s)
