"""One batch of ``supabase_changes`` messages in, state writes and outgoing records out.

This is the worker's logic with no Faust and no Kafka in it: it reads state through a
``StateReader`` (the Faust tables in production, dicts in tests), buffers every write in a
``BatchState`` overlay, and returns what to publish and what to persist. The agent publishes the
updates, then persists the writes (see ``agents``), so a crash in between only replays.

Per change: decode (orjson dicts, only the fields needed are checked; a bad envelope or change
is quarantined as ``malformed``), drop exact re-deliveries (``dedup``), verify ``events`` rows
(``verification``; a row whose session is not known waits until the end of the batch, then one
Postgres lookup decides), apply the row version if it supersedes the stored one (``versions``),
move the KPI cells (``kpis``) and produce typed updates (``mapping``). Aggregates are written once
per site and day per batch, with one ``kpi_updated`` each.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from workers.stream.rules import updates as build
from workers.stream.rules.accounting import Tally
from workers.stream.rules.dedup import admitted
from workers.stream.rules.kpis import (
    NOTHING,
    BadTimestamp,
    Contribution,
    DayAggregate,
    apply_contribution,
    contribution,
)
from workers.stream.rules.mapping import typed_updates
from workers.stream.rules.sequencing import SiteSequencer
from workers.stream.rules.verification import Verdict, rejection_detail, verdict
from workers.stream.rules.versions import Version, row_order, supersedes, version_of

DEDUP, SESSIONS, ENTITIES, DAYS = "dedup", "sessions", "entities", "days"
TABLES: tuple[str, ...] = (DEDUP, SESSIONS, ENTITIES, DAYS)
ENTITY_TABLES = frozenset({"sessions", "events", "calls", "intents"})
OPS = frozenset({"INSERT", "UPDATE", "DELETE"})

SessionLookup = Callable[[list[str]], Awaitable[dict[str, str]]]


class Malformed(ValueError):
    pass


# What a change's own content can make the processing raise: the change is quarantined.
CHANGE_ERRORS = (Malformed, BadTimestamp, KeyError, TypeError, ValueError, AttributeError)


class StateReader(Protocol):
    def getter(self, table: str, partition: int) -> Callable[[bytes], bytes | None]:
        """The store's own lookup for one (table, partition), held for one batch."""
        ...


class Processor(Protocol):
    """What the agent runs on each batch: ``BatchProcessor``, or the bench's logic-free floor."""

    async def process(
        self, messages: Iterable[tuple[int, bytes]], reader: StateReader
    ) -> BatchOutput: ...


@dataclass
class BatchState:
    """Reads through to ``reader``; writes stay here until the agent persists them.

    Three to four reads per change make this the hottest path of the worker: each store's
    lookup is fetched once per batch instead of being resolved again on every read.
    """

    reader: StateReader
    writes: dict[tuple[str, int], dict[bytes, bytes | None]] = field(default_factory=dict)
    getters: dict[tuple[str, int], Callable[[bytes], bytes | None]] = field(default_factory=dict)

    def get(self, table: str, partition: int, key: bytes) -> bytes | None:
        slot = (table, partition)
        pending = self.writes.get(slot)
        if pending is not None and key in pending:
            return pending[key]
        getter = self.getters.get(slot)
        if getter is None:
            getter = self.getters[slot] = self.reader.getter(table, partition)
        return getter(key)

    def put(self, table: str, partition: int, key: bytes, value: bytes | None) -> None:
        slot = (table, partition)
        pending = self.writes.get(slot)
        if pending is None:
            pending = self.writes[slot] = {}
        pending[key] = value


@dataclass
class BatchCounts:
    changes: int = 0  # consumed: changes, and envelopes too broken to hold any
    duplicates: int = 0
    stale: int = 0
    applied: int = 0  # row versions stored, forged ones included
    admitted: int = 0  # changes that reached the dashboard's state
    rejected: int = 0
    tables: Counter[str] = field(default_factory=Counter)
    update_types: Counter[str] = field(default_factory=Counter)

    def tally(self) -> Tally:
        return Tally(self.changes, self.admitted, self.stale, self.duplicates, self.rejected)


@dataclass
class BatchOutput:
    updates: list[tuple[str, bytes]]  # (site_id, DashboardUpdate JSON)
    rejects: list[tuple[str, bytes]]  # (key, RejectedRecord JSON)
    writes: dict[tuple[str, int], dict[bytes, bytes | None]]
    counts: BatchCounts
    newest_commit_ms: dict[int, int]  # per partition, for the dedup horizon
    days_touched: set[tuple[int, str, str]]  # (partition, site, day)


@dataclass
class _Pending:
    partition: int
    site: str
    change: dict[str, Any]
    row: dict[str, Any]
    version: Version


@dataclass
class _SiteOut:
    typed: list[dict[str, Any]] = field(default_factory=list)
    day_ids: dict[str, list[str]] = field(default_factory=dict)
    newest_ms: int = 0
    newest_ts: str = ""
    newest_id: str = ""


ENVELOPE_ERRORS = (orjson.JSONDecodeError, KeyError, TypeError)


def decode_envelope(raw: bytes) -> tuple[str, list[Any]]:
    """The site and changes of a ChangeBatch envelope; raises one of ``ENVELOPE_ERRORS``."""
    envelope = orjson.loads(raw)
    site = envelope["site_id"]
    changes = envelope["changes"]
    if not isinstance(site, str) or not isinstance(changes, list):
        raise TypeError("site_id must be a string and changes a list")
    return site, changes


def event_parts(event_id: str) -> tuple[int, str]:
    """The commit time (ms) and content digest an event ID ends with; ValueError when malformed."""
    _prefix, commit_text, digest = event_id.rsplit(":", 2)
    return int(commit_text), digest


def entity_key(table: str, row: dict[str, Any]) -> bytes:
    """A row's key in the ``entities`` table."""
    return f"{table}:{row['id']}".encode()


def raw_payload(raw: bytes) -> dict[str, str]:
    """What a reject keeps of a message that is no readable envelope: its first bytes."""
    return {"raw": raw[:4096].decode("utf-8", "replace")}


def rejected_record(reason: str, detail: str, site: str | None, change: Any) -> bytes:
    """A ``RejectedRecord`` for ``change`` (its event ID and table when it has them)."""
    event_id = change.get("event_id") if isinstance(change, dict) else None
    table = change.get("table") if isinstance(change, dict) else None
    return orjson.dumps(
        {
            "reason": reason,
            "detail": detail,
            "stage": "stream",
            "site_id": site,
            "event_id": event_id if isinstance(event_id, str) else None,
            "table": table if isinstance(table, str) else None,
            "payload": change,
        }
    )


def failed_message_rejects(raw: bytes, detail: str) -> list[tuple[str, bytes]]:
    """The quarantine records of a message whose processing raised: one per change.

    A message that is not even a readable envelope gets one record with its first bytes.
    """
    try:
        site, changes = decode_envelope(raw)
    except ENVELOPE_ERRORS:
        site, changes = "", []
    if not changes:
        return [("unknown", rejected_record("processing_error", detail, None, raw_payload(raw)))]
    return [(site, rejected_record("processing_error", detail, site, c)) for c in changes]


def _utc_iso(moment_s: float) -> str:
    return datetime.fromtimestamp(moment_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class BatchProcessor:
    """Processes one batch at a time; keeps only sequence and freshness clocks between batches."""

    def __init__(
        self,
        lookup_sessions: SessionLookup,
        *,
        sequencer: SiteSequencer | None = None,
        freshness_interval_s: float = 1.0,
        max_pending: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lookup = lookup_sessions
        self._sequencer = sequencer or SiteSequencer()
        self._freshness_interval_s = freshness_interval_s
        self._last_freshness: dict[str, float] = {}
        self._max_pending = max_pending
        self._clock = clock

    async def process(
        self, messages: Iterable[tuple[int, bytes]], reader: StateReader
    ) -> BatchOutput:
        run = _BatchRun(BatchState(reader))
        for partition, raw in messages:
            run.message(partition, raw)
            if len(run.pending) >= self._max_pending:
                await self._resolve(run)
        await self._resolve(run)
        return self._finish(run)

    async def _resolve(self, run: _BatchRun) -> None:
        if not run.pending:
            return
        missing = sorted(
            {
                str(item.row["session_id"])
                for item in run.pending
                if run.session_site(item.partition, item.row["session_id"]) is None
            }
        )
        found = await self._lookup(missing) if missing else {}
        pending, run.pending = run.pending, []
        for item in pending:
            session_id = str(item.row["session_id"])
            known = run.session_site(item.partition, session_id) or found.get(session_id)
            try:
                run.apply_event(item, verdict(item.site, known, final=True), known)
            except CHANGE_ERRORS as exc:
                run.reject("malformed", f"{type(exc).__name__}: {exc}", item.site, item.change)

    def _finish(self, run: _BatchRun) -> BatchOutput:
        now = self._clock()
        emitted_at = _utc_iso(now)
        updates: list[tuple[str, bytes]] = []
        for (partition, site), days in run.days.items():
            for day in sorted(days):
                aggregate = days[day]
                key = f"{site}|{day}".encode()
                run.state.put(
                    DAYS,
                    partition,
                    key,
                    None if aggregate.is_empty() else orjson.dumps(aggregate.to_json()),
                )
        for site, out in run.sites.items():
            first = self._sequencer.take(site, len(out.typed))
            for seq, typed in enumerate(out.typed, first):
                typed["emitted_at"] = emitted_at
                typed["seq"] = seq
                updates.append((site, orjson.dumps(typed)))
            run.counts.update_types.update(typed["type"] for typed in out.typed)
            partition = run.site_partition[site]
            for day, event_ids in sorted(out.day_ids.items()):
                aggregate = run.days[(partition, site)][day]
                update = build.kpi_updated(
                    kpis=aggregate.snapshot(day),
                    event_ids=event_ids,
                    commit_timestamp=out.newest_ts,
                    site_id=site,
                    emitted_at=emitted_at,
                    seq=self._sequencer.next(site),
                )
                run.counts.update_types["kpi_updated"] += 1
                updates.append((site, orjson.dumps(update)))
            if (
                out.newest_ms
                and now - self._last_freshness.get(site, 0.0) >= self._freshness_interval_s
            ):
                self._last_freshness[site] = now
                freshness = build.data_freshness(
                    last_change_at=out.newest_ts,
                    lag_ms=max(0.0, now * 1000 - out.newest_ms),
                    event_ids=[out.newest_id],
                    commit_timestamp=out.newest_ts,
                    site_id=site,
                    emitted_at=emitted_at,
                    seq=self._sequencer.next(site),
                )
                run.counts.update_types["data_freshness"] += 1
                updates.append((site, orjson.dumps(freshness)))
        return BatchOutput(
            updates=updates,
            rejects=run.rejects,
            writes=run.state.writes,
            counts=run.counts,
            newest_commit_ms=run.newest_commit_ms,
            days_touched={
                (run.site_partition[site], site, day)
                for site, out in run.sites.items()
                for day in out.day_ids
            },
        )


class _BatchRun:
    def __init__(self, state: BatchState) -> None:
        self.state = state
        self.pending: list[_Pending] = []
        self.rejects: list[tuple[str, bytes]] = []
        self.counts = BatchCounts()
        self.days: dict[tuple[int, str], dict[str, DayAggregate]] = {}
        self.day_loaders: dict[
            tuple[int, str], tuple[dict[str, DayAggregate], Callable[[str], DayAggregate]]
        ] = {}
        self.sites: dict[str, _SiteOut] = {}
        self.site_partition: dict[str, int] = {}
        self.newest_commit_ms: dict[int, int] = {}

    def reject(self, reason: str, detail: str, site: str | None, change: Any) -> None:
        self.counts.rejected += 1
        self.rejects.append((site or "unknown", rejected_record(reason, detail, site, change)))

    def message(self, partition: int, raw: bytes) -> None:
        try:
            site, changes = decode_envelope(raw)
        except ENVELOPE_ERRORS as exc:
            self.counts.changes += 1
            self.reject(
                "malformed", f"undecodable ChangeBatch envelope: {exc}", None, raw_payload(raw)
            )
            return
        self.site_partition[site] = partition
        tables = self.counts.tables
        for change in changes:
            self.counts.changes += 1
            tables[str(change.get("table")) if isinstance(change, dict) else "malformed"] += 1
            try:
                self.change(partition, site, change)
            except CHANGE_ERRORS as exc:
                self.reject("malformed", f"{type(exc).__name__}: {exc}", site, change)

    def change(self, partition: int, site: str, change: dict[str, Any]) -> None:
        event_id = change["event_id"]
        table = change["table"]
        op = change["op"]
        if not isinstance(event_id, str) or op not in OPS:
            raise Malformed("event_id must be a string and op one of INSERT, UPDATE, DELETE")
        if change["site_id"] != site:
            raise Malformed(f"change of site {change['site_id']} in the envelope of site {site}")
        commit_ms, digest = event_parts(event_id)
        key = event_id.encode()
        seen = admitted(self.state.get(DEDUP, partition, key), commit_ms, change.get("lsn"))
        if seen is None:
            self.counts.duplicates += 1
            return
        self.state.put(DEDUP, partition, key, seen)
        if commit_ms > self.newest_commit_ms.get(partition, 0):
            self.newest_commit_ms[partition] = commit_ms
        if table == "sites":
            self.counts.applied += 1
            self.counts.admitted += 1
            return
        if table not in ENTITY_TABLES:
            raise Malformed(f"table {table!r} is not tracked")
        row = change["old_record"] if op == "DELETE" else change["record"]
        if not isinstance(row, dict) or row.get("id") is None:
            raise Malformed("the row (record, or old_record for a DELETE) has no id")
        version = version_of(commit_ms, change.get("lsn"), digest, row_order(op, row))
        if table == "events" and op != "DELETE":
            session_id = row["session_id"]
            if not isinstance(session_id, str):
                raise Malformed("events row without a session_id")
            known = self.session_site(partition, session_id)
            item = _Pending(partition, site, change, row, version)
            decided = verdict(site, known, final=False)
            if decided == "pending":
                self.pending.append(item)
            else:
                self.apply_event(item, decided, known)
            return
        applied = self.apply(partition, site, change, row, version, "verified")
        if applied and table == "sessions":
            self.state.put(
                SESSIONS,
                partition,
                str(row["id"]).encode(),
                None if op == "DELETE" else site.encode(),
            )

    def session_site(self, partition: int, session_id: str) -> str | None:
        value = self.state.get(SESSIONS, partition, session_id.encode())
        return None if value is None else value.decode()

    def apply_event(self, item: _Pending, decided: Verdict, session_site: str | None) -> None:
        applied = self.apply(
            item.partition, item.site, item.change, item.row, item.version, decided
        )
        if applied and decided in ("site_mismatch", "unknown_session"):
            detail = rejection_detail(decided, str(item.row["session_id"]), item.site, session_site)
            self.reject(decided, detail, item.site, item.change)

    def site_days(
        self, partition: int, site: str
    ) -> tuple[dict[str, DayAggregate], Callable[[str], DayAggregate]]:
        """The batch's day aggregates of a site and the loader of those not read yet."""
        entry = self.day_loaders.get((partition, site))
        if entry is None:
            days = self.days.setdefault((partition, site), {})
            # The loader must not hold the run: a run that refers to itself is a reference
            # cycle, which only the cyclic GC frees, after it has been promoted to the oldest
            # generation whose full collections walk the whole heap.
            state = self.state

            def load(day: str) -> DayAggregate:
                raw = state.get(DAYS, partition, f"{site}|{day}".encode())
                return DayAggregate() if raw is None else DayAggregate.from_json(orjson.loads(raw))

            entry = self.day_loaders[(partition, site)] = (days, load)
        return entry

    def apply(
        self,
        partition: int,
        site: str,
        change: dict[str, Any],
        row: dict[str, Any],
        version: Version,
        decided: Verdict,
    ) -> bool:
        """Apply a row version if it supersedes the stored state; False when it is stale."""
        table, op = change["table"], change["op"]
        key = entity_key(table, row)
        raw = self.state.get(ENTITIES, partition, key)
        stored = None if raw is None else orjson.loads(raw)
        if not supersedes(
            version, change.get("source", ""), None if stored is None else stored["v"]
        ):
            self.counts.stale += 1
            return False
        verified = decided == "verified"
        new = NOTHING if op == "DELETE" else contribution(table, row, verified)
        was_sealed = bool(stored and stored.get("s"))
        old = NOTHING if stored is None else Contribution.from_json(stored["c"])
        touched: set[str] = set()
        if old != new:
            days, load = self.site_days(partition, site)
            if old.cells:
                touched = apply_contribution(days, old, -1, load)
            if new.cells:
                touched |= apply_contribution(days, new, 1, load)
        sealed = op != "DELETE" and row.get("sealed_at") is not None
        self.state.put(
            ENTITIES,
            partition,
            key,
            orjson.dumps({"v": version, "c": new.to_json(), "s": sealed}),
        )
        self.counts.applied += 1
        if not verified:
            # A rejected row moves the stored row state only; nothing of it reaches an update.
            return True
        out = self.sites.get(site)
        if out is None:
            out = self.sites[site] = _SiteOut()
        event_id = change["event_id"]
        commit_ts = change["commit_timestamp"]
        if version[0] >= out.newest_ms:
            out.newest_ms, out.newest_ts, out.newest_id = version[0], commit_ts, event_id
        out.typed += typed_updates(
            table,
            op,
            row,
            was_sealed=was_sealed,
            verified=verified,
            site_id=site,
            event_id=event_id,
            commit_timestamp=commit_ts,
        )
        for day in touched:
            out.day_ids.setdefault(day, []).append(event_id)
        self.counts.admitted += 1
        return True
