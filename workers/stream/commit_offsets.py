"""How far the committed offset of a source partition may move: never past an unprocessed record.

Faust's own rule (``Consumer._new_offset``) commits past the first run of acknowledged offsets,
checking the head of that run against the committed offset only when the committed offset is
above 0, and then letting one missing offset through. Where a batch failed and its successors
were acknowledged, or nothing had been committed yet, the commit skipped records that were
never processed. Here the run must start exactly at the next offset to process.
"""

from __future__ import annotations

from collections.abc import Iterable


def committable_offset(acked: Iterable[int], next_offset: int) -> int:
    """The offset to commit: past the acknowledged offsets contiguous from ``next_offset``.

    ``next_offset`` itself when that record is not acknowledged yet.
    """
    end = next_offset
    for offset in sorted(acked):
        if offset > end:
            break
        if offset == end:
            end += 1
    return end


def resume_offset(committed: int | None, log_start: int | None) -> int | None:
    """The first record a partition's new owner processes; None when neither is known.

    Faust reports a committed offset of 0 as None, and a partition with nothing committed starts
    at the log start (``auto_offset_reset="earliest"``); a committed offset below the log start
    resumes at the log start, as the consumer does.
    """
    if committed is None:
        return log_start
    if log_start is None:
        return committed
    return max(committed, log_start)
