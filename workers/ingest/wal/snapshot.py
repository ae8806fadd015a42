"""The initial snapshot: every existing row, read under the slot's exported snapshot.

Reading under the snapshot that ``CREATE_REPLICATION_SLOT`` exported means the rows read and the
changes streamed afterwards meet exactly at the slot's consistent point: nothing is missed and
nothing is read twice. Snapshot rows carry no commit time; they use the row's ``updated_at``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import psycopg
from psycopg import sql

from schemas.changes import TRACKED_TABLES
from workers.changes.keying import KeyedChange, Rejection, key_change
from workers.changes.values import canonical_row, timestamp_ms

FETCH_SIZE = 5000


def column_types(conn: psycopg.Connection[Any], table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        (f"public.{table}",),
    ).fetchall()
    return {name: type_name for name, type_name in rows}


def snapshot_changes(
    conn: psycopg.Connection[Any], snapshot_name: str
) -> Iterator[KeyedChange | Rejection]:
    """Rows of every tracked table as INSERT changes; ``conn`` must not be in a transaction."""
    conn.autocommit = False
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot_name)))
    try:
        for table in TRACKED_TABLES:
            types = column_types(conn, table)
            query = sql.SQL("SELECT row_to_json(t)::text FROM {} t").format(
                sql.Identifier("public", table)
            )
            with conn.cursor(name=f"pulse_snapshot_{table}") as cursor:
                cursor.itersize = FETCH_SIZE
                cursor.execute(query)
                for (raw,) in cursor:
                    row = canonical_row(orjson.loads(raw), types)
                    stamp = row.get("updated_at") or row.get("created_at")
                    yield key_change(
                        op="INSERT",
                        schema="public",
                        table=table,
                        record=row,
                        old_record=None,
                        commit_ms=timestamp_ms(stamp) if isinstance(stamp, str) else 0,
                        source="wal_snapshot",
                    )
    finally:
        conn.rollback()
        conn.autocommit = True
