"""The design's "verify the site through a session table": rules for ``events`` rows.

An event counts only when its session is known and belongs to the site the row claims. The
session's site comes from the sessions table (filled from ``sessions`` changes, co-partitioned
with the stream) or, for a session the stream has not seen by the end of the batch, from one
lookup in Postgres, the source of truth.
"""

from __future__ import annotations

from typing import Literal

Verdict = Literal["verified", "site_mismatch", "unknown_session", "pending"]


def verdict(claimed_site: str, session_site: str | None, *, final: bool) -> Verdict:
    """``session_site`` None means unknown; ``final`` means no more waiting (Postgres answered)."""
    if session_site is None:
        return "unknown_session" if final else "pending"
    return "verified" if session_site == claimed_site else "site_mismatch"


def rejection_detail(
    verdict_: Verdict, session_id: str, claimed_site: str, session_site: str | None
) -> str:
    if verdict_ == "site_mismatch":
        return f"event claims site {claimed_site} but its session {session_id} belongs to {session_site}"
    return f"session {session_id} exists neither in the stream nor in Postgres"
