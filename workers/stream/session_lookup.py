"""The one Postgres lookup that decides events whose session the stream has not seen.

Postgres is the source of truth for which site a session belongs to. Lookups are batched (one
query per stream batch). While Postgres is unreachable (a restart, a failover to a new primary
at the same address, a dropped connection) the lookup reconnects with backoff and asks again,
rather than guess: rejecting or accepting without an answer would make the KPIs differ from the
database. The batch waits meanwhile, before its transaction begins, so nothing is held open on
Kafka; the link (``resilience.link``) puts the outage in the worker's readiness and metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import psycopg
import structlog

from workers.resilience.backoff import Backoff, BackoffPolicy
from workers.resilience.link import DependencyLink

log = structlog.get_logger("pulse.stream.sessions")

QUERY = "SELECT id::text, site_id::text FROM sessions WHERE id = ANY(%s::uuid[])"

# What losing the server looks like: a query on a connection the server ended, or a connect
# attempt while it is away.
CONNECTION_LOST = (psycopg.OperationalError, psycopg.InterfaceError, OSError)


def valid_uuids(ids: list[str]) -> list[str]:
    valid = []
    for value in ids:
        try:
            valid.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return valid


class PostgresSessionLookup:
    def __init__(
        self, dsn: str | None, *, link: DependencyLink, policy: BackoffPolicy | None = None
    ) -> None:
        self._dsn = dsn
        self._link = link
        self._policy = policy or BackoffPolicy()
        self._conn: psycopg.AsyncConnection[tuple[str, str]] | None = None

    async def __call__(self, session_ids: list[str]) -> dict[str, str]:
        """Site of each given session that exists; a session missing from the result is unknown."""
        if self._dsn is None:
            log.warning(
                "no DATABASE_URL: sessions unknown to the stream count as unknown",
                n=len(session_ids),
            )
            return {}
        wanted = valid_uuids(session_ids)
        if not wanted:
            return {}
        backoff = Backoff(self._policy)
        while True:
            try:
                found = await self._query(self._dsn, wanted)
            except CONNECTION_LOST as exc:
                await self._drop()
                self._link.lost(exc)
                delay = backoff.next_delay()
                log.debug("session lookup failed", attempts=backoff.attempts, retry_in_s=delay)
                await asyncio.sleep(delay)
                continue
            self._link.restored()
            return found

    async def _query(self, dsn: str, wanted: list[str]) -> dict[str, str]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
        cursor = await self._conn.execute(QUERY, (wanted,))
        return {session: site for session, site in await cursor.fetchall()}

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(*CONNECTION_LOST):
                await conn.close()

    async def close(self) -> None:
        await self._drop()
