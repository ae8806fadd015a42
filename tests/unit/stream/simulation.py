"""A tiny database simulator for the stream's pure logic: row changes as the WAL ingest emits them.

``Simulation`` applies random single-row operations in transactions, records each change exactly
as ``supabase_changes`` carries it (canonical values, content-derived event IDs, commit time, LSN)
and keeps the final rows, from which ``expected_kpis`` computes the figures with the definitions
of ``workers.kpis.sql`` (a Python mirror of its SQL).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from workers.changes.event_id import event_id
from workers.kpis.definitions import conversion_rate
from workers.stream.processing import BatchOutput, BatchProcessor

BASE = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)


def ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Simulation:
    rng: random.Random
    sites: list[str]
    rows: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {t: {} for t in ("sessions", "events", "calls", "intents")}
    )
    changes: list[dict[str, Any]] = field(default_factory=list)
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    commit_ms: int = int(BASE.timestamp() * 1000)
    lsn: int = 1000
    forged: int = 0
    counter: int = 0

    def moment(self) -> str:
        return ts(
            BASE
            + timedelta(
                seconds=self.rng.randrange(3 * 86400), microseconds=self.rng.randrange(10**6)
            )
        )

    def new_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter:06d}"

    def emit(
        self, table: str, op: str, record: dict[str, Any] | None, old: dict[str, Any] | None
    ) -> None:
        self.lsn += self.rng.randrange(1, 50)
        row = old if op == "DELETE" else record
        assert row is not None
        site = row["id"] if table == "sites" else row["site_id"]
        change = {
            "op": op,
            "schema": "public",
            "table": table,
            "record": record,
            "old_record": old,
            "commit_timestamp": ts(datetime.fromtimestamp(self.commit_ms / 1000, UTC)),
            "site_id": site,
            "source": "wal",
            "lsn": self.lsn,
            "event_id": event_id(table, op, record, old, self.commit_ms),
        }
        self.changes.append(change)
        if record is not None:
            # What an initial-snapshot read of this row state would carry: no LSN, its own ID.
            snapshot = dict(change, op="INSERT", old_record=None, source="wal_snapshot", lsn=None)
            snapshot["event_id"] = event_id(table, "INSERT", record, None, self.commit_ms)
            self.snapshots.append(snapshot)

    def transaction(self, size: int) -> None:
        self.commit_ms += self.rng.randrange(1, 5000)
        for _ in range(size):
            self.operation()

    def operation(self) -> None:
        rng = self.rng
        rows = self.rows
        site = rng.choice(self.sites)
        kind = rng.choice(
            [
                "session",
                "session",
                "heartbeat",
                "event",
                "event",
                "event",
                "forged",
                "event_delete",
                "call",
                "call_update",
                "call_delete",
                "intent",
                "intent_update",
                "seal",
                "intent_delete",
                "event_update",
            ]
        )
        sessions = [s for s in rows["sessions"].values() if s["site_id"] == site]
        own = {
            t: [r for r in rows[t].values() if r["site_id"] == site]
            for t in ("events", "calls", "intents")
        }
        if kind == "session" or not sessions:
            started = self.moment()
            row = {
                "id": self.new_id("s"),
                "site_id": site,
                "started_at": started,
                "last_seen_at": started,
            }
            rows["sessions"][row["id"]] = row
            self.emit("sessions", "INSERT", row, None)
        elif kind == "heartbeat":
            old = rng.choice(sessions)
            new = dict(old, last_seen_at=self.moment())
            rows["sessions"][old["id"]] = new
            self.emit("sessions", "UPDATE", new, old)
        elif kind in ("event", "forged"):
            owner_sessions = sessions
            if kind == "forged":
                others = [s for s in rows["sessions"].values() if s["site_id"] != site]
                if not others:
                    return
                owner_sessions = others
                self.forged += 1
            row = {
                "id": self.new_id("e"),
                "session_id": rng.choice(owner_sessions)["id"],
                "site_id": site,
                "name": "view",
                "created_at": self.moment(),
            }
            rows["events"][row["id"]] = row
            self.emit("events", "INSERT", row, None)
        elif kind == "event_update" and own["events"]:
            old = rng.choice(own["events"])
            new = dict(old, name="click", created_at=self.moment())
            rows["events"][old["id"]] = new
            self.emit("events", "UPDATE", new, old)
        elif kind in ("event_delete", "call_delete", "intent_delete"):
            table = kind.split("_")[0] + "s"
            if own[table]:
                old = rng.choice(own[table])
                del rows[table][old["id"]]
                self.emit(table, "DELETE", None, old)
        elif kind == "call":
            row = {
                "id": self.new_id("c"),
                "site_id": site,
                "session_id": rng.choice(sessions)["id"],
                "status": "ringing",
                "created_at": self.moment(),
                "updated_at": self.moment(),
            }
            rows["calls"][row["id"]] = row
            self.emit("calls", "INSERT", row, None)
        elif kind == "call_update" and own["calls"]:
            old = rng.choice(own["calls"])
            new = dict(old, status=rng.choice(["answered", "ended"]), created_at=self.moment())
            rows["calls"][old["id"]] = new
            self.emit("calls", "UPDATE", new, old)
        elif kind == "intent":
            row = {
                "id": self.new_id("i"),
                "site_id": site,
                "session_id": rng.choice(sessions)["id"],
                "status": "open",
                "sealed_at": None,
                "created_at": self.moment(),
                "updated_at": self.moment(),
            }
            rows["intents"][row["id"]] = row
            self.emit("intents", "INSERT", row, None)
        elif kind in ("intent_update", "seal") and own["intents"]:
            old = rng.choice(own["intents"])
            new = (
                dict(old, status="sealed", sealed_at=self.moment())
                if kind == "seal"
                else dict(old, status=rng.choice(["open", "quoted"]), sealed_at=None)
            )
            rows["intents"][old["id"]] = new
            self.emit("intents", "UPDATE", new, old)

    def session_sites(self) -> dict[str, str]:
        return {sid: row["site_id"] for sid, row in self.rows["sessions"].items()}

    def expected_kpis(self) -> dict[tuple[str, str], dict[str, Any]]:
        """The KPIs of ``workers.kpis.sql`` over the final rows, as ``KpiSnapshot`` JSON."""
        counts: dict[tuple[str, str], dict[str, Any]] = defaultdict(
            lambda: {
                "sessions": 0,
                "events": 0,
                "calls": 0,
                "intents": 0,
                "conversions": 0,
                "last_event_at": None,
            }
        )
        sessions = self.session_sites()
        for row in self.rows["sessions"].values():
            counts[(row["site_id"], row["started_at"][:10])]["sessions"] += 1
        for row in self.rows["events"].values():
            if sessions.get(row["session_id"]) != row["site_id"]:
                continue
            entry = counts[(row["site_id"], row["created_at"][:10])]
            entry["events"] += 1
            entry["last_event_at"] = max(filter(None, [entry["last_event_at"], row["created_at"]]))
        for table in ("calls", "intents"):
            for row in self.rows[table].values():
                counts[(row["site_id"], row["created_at"][:10])][table] += 1
        for row in self.rows["intents"].values():
            if row["sealed_at"] is not None:
                counts[(row["site_id"], row["sealed_at"][:10])]["conversions"] += 1
        result = {}
        for (site, day), entry in counts.items():
            entry["day"] = day
            entry["conversion_rate"] = conversion_rate(entry["conversions"], entry["intents"])
            result[(site, day)] = dict(entry)
        return result


class DictState:
    """The tables as dicts per (table, partition); ``persist`` applies a batch's writes."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, int], dict[bytes, bytes]] = defaultdict(dict)

    def getter(self, table: str, partition: int) -> Callable[[bytes], bytes | None]:
        return self.data[(table, partition)].get

    def persist(self, output: BatchOutput) -> None:
        for (table, partition), writes in output.writes.items():
            target = self.data[(table, partition)]
            for key, value in writes.items():
                if value is None:
                    target.pop(key, None)
                else:
                    target[key] = value

    def kpis(self) -> dict[tuple[str, str], dict[str, Any]]:
        from workers.stream.rules.kpis import DayAggregate

        result = {}
        for (table, _partition), entries in self.data.items():
            if table != "days":
                continue
            for key, value in entries.items():
                site, day = key.decode().split("|")
                aggregate = DayAggregate.from_json(orjson.loads(value))
                if not aggregate.is_empty():
                    result[(site, day)] = aggregate.snapshot(day)
        return result


def envelope(changes: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"site_id": changes[0]["site_id"], "changes": changes})


def lookup_from(sessions: dict[str, str]) -> Any:
    calls: list[list[str]] = []

    async def lookup(ids: list[str]) -> dict[str, str]:
        calls.append(ids)
        return {sid: sessions[sid] for sid in ids if sid in sessions}

    lookup.calls = calls  # type: ignore[attr-defined]
    return lookup


def make_processor(sim: Simulation) -> BatchProcessor:
    return BatchProcessor(lookup_from(sim.session_sites()))
