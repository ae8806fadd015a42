"""Where a read starts and stops: ``beginning``, ``offset:N``, ``time:ISO``, ``end``.

``--from`` is inclusive (the first record at or after the position); ``--to`` is inclusive too
(``offset:N`` stops after offset N, ``time:ISO`` after the last record stamped at or before it).
A time without a zone is taken as UTC.

``PartitionWindow`` decides, record by record, what a read of one partition keeps; it is pure so
that the rules are tested without a broker.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Beginning:
    def __str__(self) -> str:
        return "beginning"


@dataclass(frozen=True)
class End:
    def __str__(self) -> str:
        return "end"


@dataclass(frozen=True)
class AtOffset:
    offset: int

    def __str__(self) -> str:
        return f"offset:{self.offset}"


@dataclass(frozen=True)
class AtTime:
    at: datetime

    @property
    def ms(self) -> int:
        return int(self.at.timestamp() * 1000)

    def __str__(self) -> str:
        return f"time:{self.at.isoformat()}"


Position = Beginning | End | AtOffset | AtTime


def parse_position(text: str) -> Position:
    """``beginning``, ``end``, ``offset:N`` or ``time:ISO``; otherwise ValueError saying why."""
    value = text.strip()
    if value == "beginning":
        return Beginning()
    if value == "end":
        return End()
    kind, sep, rest = value.partition(":")
    if not sep:
        raise ValueError(f"{text!r}: expected beginning, end, offset:N or time:ISO")
    if kind == "offset":
        try:
            offset = int(rest)
        except ValueError:
            raise ValueError(f"{text!r}: offset must be a whole number") from None
        if offset < 0:
            raise ValueError(f"{text!r}: offset must be 0 or more")
        return AtOffset(offset)
    if kind == "time":
        try:
            at = datetime.fromisoformat(rest)
        except ValueError:
            raise ValueError(
                f"{text!r}: time must be ISO 8601, e.g. 2026-11-23T21:00:00Z"
            ) from None
        return AtTime(at if at.tzinfo else at.replace(tzinfo=UTC))
    raise ValueError(f"{text!r}: expected beginning, end, offset:N or time:ISO")


class Verdict(enum.Enum):
    SKIP = "skip"
    KEEP = "keep"
    STOP = "stop"


@dataclass
class PartitionWindow:
    """What to keep of one partition, from ``start`` (an offset already resolved) onwards.

    ``end`` is the exclusive offset where a bounded read stops (``None`` follows forever);
    ``from_ms`` skips records until the first one stamped at or after it; ``to_offset`` and
    ``to_ms`` stop after the last record at or before them.
    """

    start: int
    end: int | None = None
    from_ms: int | None = None
    to_offset: int | None = None
    to_ms: int | None = None
    done: bool = False
    _started: bool = False

    def __post_init__(self) -> None:
        self._started = self.from_ms is None
        limit = self._limit()
        if limit is not None and self.start >= limit:
            self.done = True

    @property
    def started(self) -> bool:
        """Whether the ``from_ms`` condition has been met (always, without one)."""
        return self._started

    def _limit(self) -> int | None:
        """Exclusive offset bound from ``end`` and ``to_offset``."""
        after_to = None if self.to_offset is None else self.to_offset + 1
        bounds = [b for b in (self.end, after_to) if b is not None]
        return min(bounds) if bounds else None

    def reached(self, position: int) -> None:
        """The reader's next offset is ``position``: done once that is past the bounds."""
        limit = self._limit()
        if limit is not None and position >= limit:
            self.done = True

    def accept(self, offset: int, timestamp_ms: int) -> Verdict:
        if self.done:
            return Verdict.STOP
        if offset < self.start:
            return Verdict.SKIP
        limit = self._limit()
        if limit is not None and offset >= limit:
            self.done = True
            return Verdict.STOP
        if self.to_ms is not None and timestamp_ms > self.to_ms:
            self.done = True
            return Verdict.STOP
        verdict = Verdict.KEEP
        if not self._started:
            if self.from_ms is not None and timestamp_ms < self.from_ms:
                verdict = Verdict.SKIP
            else:
                self._started = True
        if limit is not None and offset + 1 >= limit:
            self.done = True
        return verdict
