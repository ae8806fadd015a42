"""Fault state the control API sets and the server consumes (one-shot counters and delays)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Faults:
    join_reply_delay_ms: float = 0.0
    join_reply_delays_left: int = 0
    mismatch_joins_left: int = 0
    drop_next: int = 0
    duplicate_next: int = 0
    # While on, changes are consumed from the slot and dropped, as under the tenant's rate limit.
    rate_limited: bool = False

    def take_join_delay_s(self) -> float:
        if self.join_reply_delays_left <= 0:
            return 0.0
        self.join_reply_delays_left -= 1
        return self.join_reply_delay_ms / 1000

    def take_mismatch(self) -> bool:
        if self.mismatch_joins_left <= 0:
            return False
        self.mismatch_joins_left -= 1
        return True

    def copies_of_next_change(self) -> int:
        """How many times the next change is sent: 0 (dropped), 1, or 2 (duplicated)."""
        if self.rate_limited:
            return 0
        if self.drop_next > 0:
            self.drop_next -= 1
            return 0
        if self.duplicate_next > 0:
            self.duplicate_next -= 1
            return 2
        return 1


@dataclass
class Counters:
    connections: int = 0
    joins: Counter[str] = field(default_factory=Counter)
    duplicate_joins: Counter[str] = field(default_factory=Counter)
    changes_sent: Counter[str] = field(default_factory=Counter)
    changes_dropped: int = 0
    heartbeats: int = 0
    access_tokens: int = 0
    subscribed: Counter[str] = field(default_factory=Counter)
    postgrest_requests: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "connections": self.connections,
            "joins": dict(self.joins),
            "duplicate_joins": dict(self.duplicate_joins),
            "changes_sent": dict(self.changes_sent),
            "changes_dropped": self.changes_dropped,
            "heartbeats": self.heartbeats,
            "access_tokens": self.access_tokens,
            "subscribed": dict(self.subscribed),
            "postgrest_requests": self.postgrest_requests,
        }
