"""Where a source partition's new owner resumes: its committed offset, or else its log start."""

from __future__ import annotations


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
