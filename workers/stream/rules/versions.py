"""Which version of a row is newer: the ordering that keeps replays and re-reads from rolling
state back.

A version is (commit time in ms, WAL position, content digest, row order), read from the change.
Three rules, the first that both sides can use decides:

1. Both from the WAL stream (both carry an LSN): (commit, lsn). Changes of one transaction share
   the commit time but have increasing WAL positions.
2. Both carry the row's ``row_version`` (``schemas/sql/003_row_versions.sql``: every INSERT and
   UPDATE takes the next number of one sequence while holding the row, so one row's numbers rise
   in commit order): the row order. This holds whatever the source, the arrival order and the
   commit millisecond, so Realtime pushes and catch-up reads of a row are ordered exactly: several
   statements in one transaction, transactions in the same millisecond, A-B-A. A DELETE carries
   the number of the state it removed (its old row) and ranks right after that state.
3. Otherwise (rows of tables without the column, or a side that predates it) the commit time,
   then: a snapshot or catch-up read (no LSN, the row's ``updated_at`` as its time, never later
   than its commit) only wins over an older time; two changes without an LSN that tie are taken
   in arrival order when the newer comes from the live feed (``realtime``), since that feed
   delivers one transaction's changes in order, and re-reads never win a tie; a WAL change wins a
   tie against one without an LSN. A tie between a catch-up read and a push of another state of
   the same millisecond cannot be decided this way.

Stored versions written before the row order existed have three fields and fall under rule 3.
"""

from __future__ import annotations

from typing import Any

NO_LSN = -1
NO_ROW_ORDER = -1
ROW_VERSION = "row_version"
LIVE_UNORDERED_SOURCES = frozenset({"realtime"})

Version = tuple[int, int, str, int]


def row_order(op: str, row: dict[str, Any]) -> int:
    """The rank of a change in its row's history; ``NO_ROW_ORDER`` when the row has no version.

    A state at version n ranks 2n and its DELETE 2n + 1: after that state, before any later one
    (versions of one row are distinct numbers of one sequence). Raises ValueError when the column
    holds something other than a non-negative integer.
    """
    value = row.get(ROW_VERSION)
    if value is None:
        return NO_ROW_ORDER
    # An ingest whose catch-up column types predate row_version spells it as text.
    number = int(value) if isinstance(value, str) and value.isdigit() else value
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise ValueError(f"{ROW_VERSION} must be a non-negative integer, not {value!r}")
    return 2 * number + (op == "DELETE")


def version_of(commit_ms: int, lsn: Any, digest: str, order: int = NO_ROW_ORDER) -> Version:
    return (commit_ms, lsn if isinstance(lsn, int) else NO_LSN, digest, order)


def stored_version(stored: list[Any]) -> Version:
    """A stored version; three-field ones (before row orders existed) have none."""
    order = int(stored[3]) if len(stored) > 3 else NO_ROW_ORDER
    return (int(stored[0]), int(stored[1]), str(stored[2]), order)


def supersedes(new: Version, source: str, stored: list[Any] | None) -> bool:
    """Whether a change at ``new`` replaces the row state stored at ``stored``."""
    if stored is None:
        return True
    old_ms, old_lsn, old_digest, old_order = stored_version(stored)
    new_ms, new_lsn, new_digest, new_order = new
    if new_lsn != NO_LSN and old_lsn != NO_LSN:
        return (new_ms, new_lsn) > (old_ms, old_lsn)
    if new_order != NO_ROW_ORDER and old_order != NO_ROW_ORDER:
        return new_order > old_order
    if new_ms != old_ms:
        return new_ms > old_ms
    if new_lsn == NO_LSN and old_lsn == NO_LSN:
        return source in LIVE_UNORDERED_SOURCES and new_digest != old_digest
    # One side has a WAL position and the other not: the WAL change is the authoritative one.
    return new_lsn != NO_LSN
