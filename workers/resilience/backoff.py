"""Delays between reconnect attempts: exponential, capped, with jitter.

Jitter keeps a fleet of processes that lost the same server from knocking on it in step when it
comes back.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BackoffPolicy:
    initial_s: float = 0.25
    maximum_s: float = 10.0
    factor: float = 2.0
    jitter: float = 0.5  # share of each delay drawn at random: 0 none, 1 anywhere from 0

    def __post_init__(self) -> None:
        if not (
            0 < self.initial_s <= self.maximum_s and self.factor >= 1 and 0 <= self.jitter <= 1
        ):
            raise ValueError(f"invalid backoff policy {self}")


def backoff_delay(policy: BackoffPolicy, attempt: int, draw: Callable[[], float]) -> float:
    """The wait before attempt ``attempt`` (1 for the first retry); ``draw`` gives [0, 1)."""
    # The exponent is capped: retries go on for as long as an outage lasts, and factor ** 1024
    # no longer fits a float.
    exponent = min(max(0, attempt - 1), 64)
    ceiling = min(policy.maximum_s, policy.initial_s * policy.factor**exponent)
    return ceiling * (1 - policy.jitter * draw())


@dataclass
class Backoff:
    """Successive delays of one outage; a new outage starts from the initial delay again."""

    policy: BackoffPolicy = field(default_factory=BackoffPolicy)
    draw: Callable[[], float] = random.random
    attempts: int = 0

    def next_delay(self) -> float:
        self.attempts += 1
        return backoff_delay(self.policy, self.attempts, self.draw)

    def reset(self) -> None:
        self.attempts = 0
