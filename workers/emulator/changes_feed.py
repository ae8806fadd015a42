"""The emulator's CDC source: a temporary logical slot on the real Postgres, polled like Realtime.

Realtime polls a temporary wal2json slot with ``pg_logical_slot_get_changes``: changes are consumed
on read, with no acknowledgement, and the slot dies with its connection, so a restart loses what
was committed in between. This feed keeps exactly those properties but reads ``pgoutput`` through
``pg_logical_slot_get_binary_changes`` and decodes it with the project's own decoder. Values are
rendered as the server does, ``to_jsonb(text::column_type)``, by Postgres itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import psycopg
import structlog
from psycopg import sql

from workers.ingest.wal.pgoutput import (
    UNCHANGED,
    Begin,
    Relation,
    RowChange,
    commit_time,
    decode,
)

log = structlog.get_logger("pulse.emulator.feed")

JSON_TYPES = frozenset({"json", "jsonb"})
SMALL_VALUE_BYTES = 64

Deliver = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class RelationInfo:
    relation: Relation
    columns: list[dict[str, str]]
    primary_key: tuple[str, ...]

    @property
    def types(self) -> dict[str, str]:
        return {column["name"]: column["type"] for column in self.columns}


@dataclass
class _Pending:
    info: RelationInfo
    op: str
    commit_us: int
    new: dict[str, Any] | None
    old: dict[str, Any] | None
    new_missing: list[str]
    data: dict[str, Any] | None = None


def commit_timestamp_text(commit_us: int) -> str:
    """UTC, millisecond precision, truncated, as ``to_char(... 'MS')`` renders it."""
    moment = commit_time(commit_us)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _text_values(
    info: RelationInfo, values: tuple[object, ...]
) -> tuple[dict[str, Any], list[str]]:
    """Column values ready for ``jsonb_populate_record``, and the unchanged-TOAST columns left out."""
    row: dict[str, Any] = {}
    missing: list[str] = []
    types = info.types
    for column, value in zip(info.relation.columns, values, strict=True):
        if value is UNCHANGED:
            missing.append(column.name)
        elif value is None or types.get(column.name) not in JSON_TYPES:
            row[column.name] = value
        else:
            row[column.name] = orjson.loads(str(value))
    return row, missing


def trim_large(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if len(orjson.dumps(v)) <= SMALL_VALUE_BYTES}


def build_data(
    info: RelationInfo,
    op: str,
    commit_us: int,
    record: dict[str, Any] | None,
    old_record: dict[str, Any] | None,
    max_record_bytes: int,
) -> dict[str, Any]:
    """The ``data`` of one ``postgres_changes`` push, keys present exactly as the server sends them."""
    relation = info.relation
    if not info.primary_key:
        data: dict[str, Any] = {
            "schema": relation.schema,
            "table": relation.table,
            "type": op,
            "commit_timestamp": None,
            "columns": [],
        }
        if op != "DELETE":
            data["record"] = {}
        if op != "INSERT":
            data["old_record"] = {}
        data["errors"] = ["Error 400: Bad Request, no primary key"]
        return data
    errors: list[str] | None = None
    size = len(orjson.dumps(record)) + len(orjson.dumps(old_record))
    if size > max_record_bytes:
        errors = ["Error 413: Payload Too Large"]
        record = trim_large(record) if record is not None else None
        old_record = trim_large(old_record) if old_record is not None else None
    data = {
        "schema": relation.schema,
        "table": relation.table,
        "type": op,
        "commit_timestamp": commit_timestamp_text(commit_us),
        "columns": info.columns,
    }
    if op != "DELETE":
        data["record"] = record or {}
    if op != "INSERT":
        data["old_record"] = old_record or {}
    data["errors"] = errors
    return data


@dataclass
class ChangesFeed:
    dsn: str
    publication: str
    deliver: Deliver
    poll_interval_ms: float = 100.0
    max_changes: int = 100
    max_record_bytes: int = 1_048_576
    paused: bool = False
    polls: int = 0
    changes_read: int = 0
    slot_name: str = ""
    _conn: psycopg.AsyncConnection[tuple[Any, ...]] | None = None
    _relations: dict[int, RelationInfo] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _commit_us: int = 0

    async def open(self) -> None:
        """Connect and create a fresh temporary slot; changes before this moment are never seen."""
        conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
        await conn.execute("SET TimeZone = 'UTC'")
        self.slot_name = f"pulse_emulator_{uuid.uuid4().hex[:12]}"
        await conn.execute(
            "SELECT pg_create_logical_replication_slot(%s, 'pgoutput', true)", (self.slot_name,)
        )
        self._conn = conn
        self._relations = {}
        log.info("emulator slot created", slot=self.slot_name)

    async def close(self) -> None:
        async with self._lock:
            if self._conn is not None:
                with contextlib.suppress(psycopg.Error):
                    await self._conn.close()
                self._conn = None

    async def restart(self) -> None:
        """Drop the temporary slot with its connection and start over: a gap, as on a node restart."""
        async with self._lock:
            if self._conn is not None:
                with contextlib.suppress(psycopg.Error):
                    await self._conn.close()
            await self.open()

    async def run(self) -> None:
        idle_s = self.poll_interval_ms / 1000
        while True:
            if self.paused or self._conn is None:
                await asyncio.sleep(idle_s)
                continue
            try:
                delivered = await self.poll_once()
            except psycopg.Error as exc:
                log.warning("emulator poll failed; reconnecting with a new slot", error=str(exc))
                await asyncio.sleep(idle_s)
                with contextlib.suppress(psycopg.Error):
                    await self.restart()
                continue
            if not delivered:
                await asyncio.sleep(idle_s)

    async def poll_once(self) -> int:
        async with self._lock:
            conn = self._conn
            if conn is None:
                return 0
            rows = await (
                await conn.execute(
                    "SELECT data FROM pg_logical_slot_get_binary_changes(%s, NULL, %s, "
                    "'proto_version', '1', 'publication_names', %s)",
                    (self.slot_name, self.max_changes, self.publication),
                )
            ).fetchall()
            self.polls += 1
            pending = [p for p in [await self._feed(conn, bytes(row[0])) for row in rows] if p]
            await self._render(conn, pending)
        for item in pending:
            assert item.data is not None
            await self.deliver(item.data)
        self.changes_read += len(pending)
        return len(pending)

    async def _feed(
        self, conn: psycopg.AsyncConnection[tuple[Any, ...]], raw: bytes
    ) -> _Pending | None:
        message = decode(raw)
        if isinstance(message, Begin):
            self._commit_us = message.commit_us
            return None
        if isinstance(message, Relation):
            self._relations[message.relid] = await self._describe(conn, message)
            return None
        if not isinstance(message, RowChange):
            return None
        info = self._relations[message.relid]
        old = new = None
        missing: list[str] = []
        if message.old is not None:
            old, _ = _text_values(info, message.old)
            if message.old_is_key_only:
                keys = {column.name for column in info.relation.columns if column.is_key}
                old = {name: value for name, value in old.items() if name in keys}
        if message.new is not None:
            new, missing = _text_values(info, message.new)
        if message.op != "INSERT" and old is None and new is not None:
            # Default identity with an unchanged key: wal2json takes the key from the new tuple.
            old = {name: new[name] for name in info.primary_key if name in new}
        return _Pending(info, message.op, self._commit_us, new, old, missing)

    async def _describe(
        self, conn: psycopg.AsyncConnection[tuple[Any, ...]], relation: Relation
    ) -> RelationInfo:
        oids = [column.type_oid for column in relation.columns]
        names = dict(
            await (
                await conn.execute(
                    "SELECT oid::int, typname::text FROM pg_type WHERE oid = ANY(%s)", (oids,)
                )
            ).fetchall()
        )
        primary = await (
            await conn.execute(
                "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a "
                "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                "WHERE i.indrelid = %s::oid AND i.indisprimary ORDER BY a.attnum",
                (relation.relid,),
            )
        ).fetchall()
        columns = [
            {"name": c.name, "type": names.get(c.type_oid, "text")} for c in relation.columns
        ]
        return RelationInfo(relation, columns, tuple(row[0] for row in primary))

    async def _render(
        self, conn: psycopg.AsyncConnection[tuple[Any, ...]], pending: list[_Pending]
    ) -> None:
        """Typed JSON for every tuple of the batch, one query per table."""
        by_relation: dict[int, list[tuple[_Pending, str]]] = {}
        for item in pending:
            if item.new is not None:
                by_relation.setdefault(item.info.relation.relid, []).append((item, "new"))
            if item.old is not None:
                by_relation.setdefault(item.info.relation.relid, []).append((item, "old"))
        rendered: dict[tuple[int, str], dict[str, Any]] = {}
        for entries in by_relation.values():
            relation = entries[0][0].info.relation
            rows = [item.new if side == "new" else item.old for item, side in entries]
            query = sql.SQL(
                "SELECT to_jsonb(jsonb_populate_record(NULL::{}, e))::text "
                "FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS a(e, n) ORDER BY n"
            ).format(sql.Identifier(relation.schema, relation.table))
            results = await (await conn.execute(query, (orjson.dumps(rows).decode(),))).fetchall()
            for (item, side), (text,) in zip(entries, results, strict=True):
                rendered[(id(item), side)] = orjson.loads(text)
        for item in pending:
            order = [column["name"] for column in item.info.columns]
            old = None
            if item.old is not None:
                full_old = rendered[(id(item), "old")]
                old = {name: full_old[name] for name in order if name in item.old}
            record = None
            if item.new is not None:
                full_new = rendered[(id(item), "new")]
                record = {name: full_new[name] for name in order if name in item.new}
                for name in item.new_missing:
                    if old is not None and name in old:
                        record[name] = old[name]
            item.data = build_data(
                item.info, item.op, item.commit_us, record, old, self.max_record_bytes
            )
