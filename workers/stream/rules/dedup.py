"""Dropping exact re-deliveries by event ID, with a horizon that survives restarts.

The dedup table maps an event ID to its commit time (ms). IDs expire ``horizon`` after the newest
commit time the partition has seen (event time, not wall-clock time: replaying old data must not
wipe the table the way Faust's windowed tables do, and Faust's window expiry is lost on restart,
faust #385). Expiry is a purge that scans the partition's store and deletes expired IDs through
the changelog (tombstones), so the compacted changelog, and any table restored from it, stays
bounded too. The bound: after a purge, a partition holds only the IDs committed within
``horizon`` of its newest change, plus those added since the purge started.

A change with the ID of one seen before but at another WAL position is no re-delivery and passes
(``admitted``). A re-delivery older than the horizon passes dedup; the KPIs stay exact anyway
because they are counted by row state (``kpis``), and dedup is the cheap first filter, not the
correctness guard.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def encode_seen(commit_ms: int, lsn: object = None) -> bytes:
    """The commit time, and the WAL position when the change has one: ``ms`` or ``ms:lsn``.

    ``admitted`` appends the positions of further changes with the same ID: ``ms:lsn,lsn``.
    """
    if isinstance(lsn, int):
        return f"{commit_ms}:{lsn}".encode()
    return str(commit_ms).encode()


def decode_seen(value: bytes) -> int:
    """The commit time of a seen ID (values written before WAL positions were kept included)."""
    return int(value.split(b":", 1)[0])


def admitted(seen: bytes | None, commit_ms: int, lsn: object) -> bytes | None:
    """The value to store for a change's event ID when the change is new; None for a re-delivery.

    ``seen`` is the value stored for the ID so far. One transaction that sets a row back to an
    earlier state (A, then B, then A again) gives the first and the last change one ID: same
    operation, row, key and commit time. Dropping the last as a re-delivery would leave the row
    at B. Their WAL positions tell them apart, so the value lists every position the ID came
    with, and a change at a position not listed is admitted; the row's version ordering
    (``versions``) then decides which state stands. Changes without a position (Realtime, the
    initial snapshot), and IDs first seen without one, cannot be told apart that way; rows with
    a ``row_version`` column never give two states one ID in the first place.
    """
    if seen is None:
        return encode_seen(commit_ms, lsn)
    if not isinstance(lsn, int):
        return None
    _ms, separator, positions = seen.partition(b":")
    position = str(lsn).encode()
    if not separator or position in positions.split(b","):
        return None
    return seen + b"," + position


def expired_ids(
    entries: Iterable[tuple[bytes, bytes]], watermark_ms: int, horizon_ms: int
) -> Iterator[bytes]:
    """Keys whose commit time lies more than ``horizon_ms`` before ``watermark_ms``."""
    limit = watermark_ms - horizon_ms
    for key, value in entries:
        try:
            seen = decode_seen(value)
        except ValueError:
            yield key
            continue
        if seen < limit:
            yield key


def newest_seen(entries: Iterable[tuple[bytes, bytes]]) -> int:
    newest = 0
    for _key, value in entries:
        try:
            newest = max(newest, decode_seen(value))
        except ValueError:
            continue
    return newest
