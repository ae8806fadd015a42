"""A database of calls and intents stamped like PostgreSQL stamps them, and what the Realtime
source publishes of it.

``History`` runs transactions of single-row statements. ``updated_at`` (and a default
``created_at``) is the transaction's start time, as ``now()`` gives it; the commit time is when
the transaction ends; every INSERT and UPDATE takes the next ``row_version``
(``schemas/sql/003_row_versions.sql``). A transaction may start before the previous one commits,
as concurrent ones do, so a later state of a row can carry an earlier ``updated_at``.

Every statement leaves the push the Realtime source publishes for it (the emulator's payload
through ``change_from_push``), and ``catch_up`` reads the committed rows as the source's catch-up
does (``change_from_row``). Both come out as the JSON ``supabase_changes`` carries.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.changes import ChangeRecord
from workers.ingest.realtime.changes import CATCHUP_COLUMN_TYPES, change_from_push, change_from_row
from workers.kafka.codec import encode_change
from workers.kpis.definitions import conversion_rate

BASE = datetime(2026, 11, 20, 23, 59, 58, tzinfo=UTC)  # histories cross midnight UTC
TABLES = ("calls", "intents")
STATUSES = {"calls": ("ringing", "answered", "ended"), "intents": ("open", "qualified", "quoted")}

# (kind, table, which live row, which status): kind is insert, update, seal, unseal or delete;
# seal and unseal act on intents whatever the table says.
Statement = tuple[str, str, int, int]


def timestamp(moment_us: int) -> str:
    moment = BASE + timedelta(microseconds=moment_us)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def commit_text(moment_us: int) -> str:
    """A commit time as Realtime sends it: UTC, milliseconds, truncated."""
    return timestamp(moment_us)[:23] + "Z"


@dataclass
class History:
    rng: random.Random
    sites: list[str]
    rows: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    pushes: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (transaction, change)
    transactions: int = 0
    clock_us: int = 0
    last_version: int = 0

    def transaction(self, statements: list[Statement], start_back_us: int, gap_us: int) -> None:
        """Run ``statements`` in one transaction.

        It starts ``start_back_us`` before the previous commit (concurrently with it) and commits
        ``gap_us`` after the later of that commit and its own start.
        """
        start = max(0, self.clock_us - start_back_us)
        changes = [c for c in (self.statement(s, timestamp(start)) for s in statements) if c]
        commit = max(self.clock_us, start) + gap_us
        self.clock_us = commit
        for table, op, record, old in changes:
            self.pushes.append((self.transactions, push(table, op, record, old, commit)))
        self.transactions += 1

    def statement(
        self, statement: Statement, now: str
    ) -> tuple[str, str, dict[str, Any] | None, dict[str, Any] | None] | None:
        """(table, op, new row, old row) of one statement; None when it finds no row."""
        kind, table, pick, status = statement
        if kind in ("seal", "unseal"):
            table = "intents"
        if kind == "insert":
            row = self.new_row(table, now)
            self.rows[(table, row["id"])] = row
            return table, "INSERT", dict(row), None
        live = sorted(key for key in self.rows if key[0] == table)
        if not live:
            return None
        key = live[pick % len(live)]
        old = self.rows[key]
        if kind == "delete":
            del self.rows[key]
            return table, "DELETE", None, dict(old)
        if kind == "seal":
            new = dict(old, status="sealed", sealed_at=now)
        elif kind == "unseal":
            new = dict(old, status="qualified", sealed_at=None)
        else:
            new = dict(old, status=STATUSES[table][status % len(STATUSES[table])])
        new.update(updated_at=now, row_version=self.next_version())
        self.rows[key] = new
        return table, "UPDATE", dict(new), dict(old)

    def new_row(self, table: str, now: str) -> dict[str, Any]:
        site = self.rng.choice(self.sites)
        row: dict[str, Any] = {
            "id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "site_id": site,
            "session_id": None,
        }
        if table == "intents":
            row["call_id"] = None
        row["status"] = STATUSES[table][0]
        if table == "intents":
            row["sealed_at"] = None
        # Half the rows take created_at's default (now()), which a catch-up reads as an INSERT.
        created = now if self.rng.random() < 0.5 else timestamp(self.rng.randrange(4_000_000))
        row.update(created_at=created, updated_at=now, row_version=self.next_version())
        return row

    def next_version(self) -> int:
        self.last_version += 1
        return self.last_version

    def catch_up(self) -> list[dict[str, Any]]:
        """Every committed row, read as the catch-up reads it."""
        records = []
        for (table, _row_id), row in sorted(self.rows.items()):
            change = change_from_row(table, row, CATCHUP_COLUMN_TYPES[table])
            assert isinstance(change, ChangeRecord), change
            records.append(encode_change(change))
        return records

    def expected_kpis(self) -> dict[tuple[str, str], dict[str, Any]]:
        """The KPIs of ``workers.kpis.sql`` over the rows, as ``KpiSnapshot`` JSON."""
        counts: dict[tuple[str, str], dict[str, Any]] = {}

        def entry(site: str, day: str) -> dict[str, Any]:
            return counts.setdefault(
                (site, day),
                {
                    "day": day,
                    "sessions": 0,
                    "events": 0,
                    "calls": 0,
                    "intents": 0,
                    "conversions": 0,
                    "last_event_at": None,
                },
            )

        for (table, _row_id), row in self.rows.items():
            entry(row["site_id"], row["created_at"][:10])[table] += 1
            if row.get("sealed_at") is not None:
                entry(row["site_id"], row["sealed_at"][:10])["conversions"] += 1
        for figures in counts.values():
            figures["conversion_rate"] = conversion_rate(figures["conversions"], figures["intents"])
        return counts


def push(
    table: str, op: str, record: dict[str, Any] | None, old: dict[str, Any] | None, commit_us: int
) -> dict[str, Any]:
    """The change the source publishes for the ``postgres_changes`` push of one statement."""
    data: dict[str, Any] = {
        "schema": "public",
        "table": table,
        "type": op,
        "commit_timestamp": commit_text(commit_us),
        "columns": [{"name": n, "type": t} for n, t in CATCHUP_COLUMN_TYPES[table].items()],
        "errors": None,
    }
    if op != "DELETE":
        data["record"] = record
    if op != "INSERT":
        data["old_record"] = old
    change = change_from_push({"ids": [1], "data": data})
    assert isinstance(change, ChangeRecord), change
    return encode_change(change)
