"""Which version of a row is newer: the ordering that keeps replays from rolling state back.

A version is (commit time in ms, WAL position, content digest), read from the change. Changes of
one transaction share the commit time but have increasing WAL positions, so (commit, lsn) orders
two updates of a row in one transaction. A row re-read by the initial snapshot (``wal_snapshot``)
carries no LSN and the row's ``updated_at`` as its time, which is never later than the commit that
wrote that state: it can only win over an older state. Changes without an LSN (Realtime) that
tie on commit time are taken in arrival order when they come from the live feed, since that feed
delivers one transaction's changes in order; re-reads (``realtime_catchup``) never win a tie.
"""

from __future__ import annotations

from typing import Any

NO_LSN = -1
LIVE_UNORDERED_SOURCES = frozenset({"realtime"})

Version = tuple[int, int, str]


def version_of(commit_ms: int, lsn: Any, digest: str) -> Version:
    return (commit_ms, lsn if isinstance(lsn, int) else NO_LSN, digest)


def supersedes(new: Version, source: str, stored: list[Any] | None) -> bool:
    """Whether a change at ``new`` replaces the row state stored at ``stored``."""
    if stored is None:
        return True
    old_ms, old_lsn, old_digest = int(stored[0]), int(stored[1]), str(stored[2])
    if new[0] != old_ms:
        return new[0] > old_ms
    if new[1] != NO_LSN and old_lsn != NO_LSN:
        return new[1] > old_lsn
    if new[1] == NO_LSN and old_lsn == NO_LSN:
        return source in LIVE_UNORDERED_SOURCES and new[2] != old_digest
    # One side has a WAL position and the other not: the WAL change is the authoritative one.
    return new[1] != NO_LSN
