"""Whether a site exists, from the ``sites`` table (the tools' meaning of "unknown site")."""

from __future__ import annotations

from typing import Any

import psycopg

from workers.tools.errors import ToolError, UnknownSite


def connect(dsn: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(dsn, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise ToolError(f"cannot connect to Postgres (check DATABASE_URL): {exc}") from exc


def ensure_site_known(conn: psycopg.Connection[Any], site_id: str) -> None:
    # Compared as text so that an id that is not even a UUID reads as unknown, not as an SQL error.
    row = conn.execute("SELECT 1 FROM sites WHERE id::text = %s", (site_id,)).fetchone()
    if row is None:
        raise UnknownSite(f"unknown site {site_id!r}: it is not in the sites table")
