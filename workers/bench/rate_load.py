"""The load both source-rate measurements commit: ``events`` inserts spread over 10 new sites."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import psycopg

SITES = 10


@dataclass(frozen=True)
class SourceRate:
    """Changes acknowledged by Kafka, and the seconds from the first commit to the last ack."""

    rows: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def write_event_rows(dsn: str, rows: int, rows_per_transaction: int, label: str) -> None:
    """One site and one session per site first, then ``rows`` events in bulk transactions."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        sessions = []
        for index in range(SITES):
            site = str(uuid.uuid4())
            conn.execute("INSERT INTO sites (id, name) VALUES (%s, %s)", (site, f"{label}-{index}"))
            session = conn.execute(
                "INSERT INTO sessions (site_id) VALUES (%s) RETURNING id::text", (site,)
            ).fetchone()
            assert session is not None
            sessions.append((session[0], site))
        written = 0
        while written < rows:
            count = min(rows_per_transaction, rows - written)
            session, site = sessions[(written // rows_per_transaction) % SITES]
            conn.execute(
                "INSERT INTO events (session_id, site_id, name) "
                "SELECT %s, %s, 'rate' FROM generate_series(1, %s)",
                (session, site, count),
            )
            written += count
