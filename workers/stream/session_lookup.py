"""The one Postgres lookup that decides events whose session the stream has not seen.

Postgres is the source of truth for which site a session belongs to. Lookups are batched (one
query per stream batch). While Postgres is unreachable the worker waits and retries rather than
guess: rejecting or accepting without an answer would make the KPIs differ from the database.
"""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import structlog

log = structlog.get_logger("pulse.stream.sessions")

QUERY = "SELECT id::text, site_id::text FROM sessions WHERE id = ANY(%s::uuid[])"


def _valid_uuids(ids: list[str]) -> list[str]:
    valid = []
    for value in ids:
        try:
            valid.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return valid


class PostgresSessionLookup:
    def __init__(self, dsn: str | None, *, retry_s: float = 1.0) -> None:
        self._dsn = dsn
        self._retry_s = retry_s
        self._conn: psycopg.AsyncConnection[tuple[str, str]] | None = None

    async def __call__(self, session_ids: list[str]) -> dict[str, str]:
        """Site of each given session that exists; a session missing from the result is unknown."""
        if self._dsn is None:
            log.warning(
                "no DATABASE_URL: sessions unknown to the stream count as unknown",
                n=len(session_ids),
            )
            return {}
        wanted = _valid_uuids(session_ids)
        if not wanted:
            return {}
        while True:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
                cursor = await self._conn.execute(QUERY, (wanted,))
                return {session: site for session, site in await cursor.fetchall()}
            except psycopg.OperationalError as exc:
                log.error("session lookup failed; retrying", error=str(exc), sessions=len(wanted))
                self._conn = None
                await asyncio.sleep(self._retry_s)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
