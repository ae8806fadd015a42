"""The peer's work on one ``supabase_changes`` message: the stream worker's rules, per message.

``pulse bench``'s ``peer`` stage runs this inside Quix Streams (``peer_worker``) to measure the
worker against a framework a user could pick instead, on the same work. The rules are the
worker's own functions, so the two differ only in how they run: dedup by event ID
(``dedup.admitted``), the per-row version rule (``versions.supersedes``), ``events`` rows
verified through sessions (``verification.verdict``: the stream's sessions first, then one
Postgres lookup per message for the rest), the KPI contributions and day aggregates (``kpis``)
and the typed updates (``mapping``). Stored values are the worker's encodings.

Quix shapes the rest: state belongs to the message key, the site, so each site keeps its own
sessions; a message is the unit of work, so a day aggregate is read and written once per message
where the worker does it once per batch; and the output is one record per applied change,
holding its typed updates and the totals of the days it moved, in place of the worker's
per-batch ``kpi_updated``. Changes of the ``sites`` table are counted and stored in dedup only,
as the worker does, and produce no record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from workers.stream.processing import ENTITY_TABLES, decode_envelope, entity_key, event_parts
from workers.stream.rules.dedup import admitted
from workers.stream.rules.kpis import (
    NOTHING,
    Contribution,
    DayAggregate,
    apply_contribution,
    contribution,
)
from workers.stream.rules.mapping import typed_updates
from workers.stream.rules.verification import Verdict, verdict
from workers.stream.rules.versions import Version, supersedes, version_of

# One store per site holds what the worker keeps in four tables; a prefix keeps them apart.
SEEN, ROW, SESSION, DAY = b"seen|", b"row|", b"session|", b"day|"

SessionSites = Callable[[list[str]], dict[str, str]]


class PeerState(Protocol):
    """The part of Quix's per-key ``State`` the peer uses (a dict in the tests)."""

    def get_bytes(self, key: bytes) -> bytes | None: ...

    def set_bytes(self, key: bytes, value: bytes) -> None: ...

    def delete(self, key: bytes) -> None: ...


class UnexpectedChange(ValueError):
    """A change the worker would quarantine: the peer has no quarantine, so its stage stops."""


@dataclass
class MessageResult:
    changes: int
    records: list[bytes]  # one per applied change


def process_message(
    raw: bytes, state: PeerState, sessions_in_postgres: SessionSites
) -> MessageResult:
    """Apply one envelope's changes to ``state``; ``sessions_in_postgres`` is the lookup of last
    resort for sessions the site's state does not hold."""
    site, changes = decode_envelope(raw)
    message = _Message(site, state)
    for change in changes:
        message.change(change)
    if message.pending:
        message.resolve(sessions_in_postgres)
    message.store_days()
    return MessageResult(len(changes), message.records)


@dataclass
class _Message:
    site: str
    state: PeerState
    pending: list[tuple[dict[str, Any], dict[str, Any], Version]] = field(default_factory=list)
    days: dict[str, DayAggregate] = field(default_factory=dict)
    records: list[bytes] = field(default_factory=list)

    def change(self, change: dict[str, Any]) -> None:
        event_id = change["event_id"]
        op = change["op"]
        if change["site_id"] != self.site:
            raise UnexpectedChange(f"change of site {change['site_id']} in site {self.site}")
        commit_ms, digest = event_parts(event_id)
        seen_key = SEEN + event_id.encode()
        seen = admitted(self.state.get_bytes(seen_key), commit_ms, change.get("lsn"))
        if seen is None:
            return
        self.state.set_bytes(seen_key, seen)
        table = change["table"]
        if table == "sites":
            return
        if table not in ENTITY_TABLES:
            raise UnexpectedChange(f"table {table!r} is not tracked")
        row = change["old_record"] if op == "DELETE" else change["record"]
        version = version_of(commit_ms, change.get("lsn"), digest)
        if table == "events" and op != "DELETE":
            decided = verdict(self.site, self.session_site(row["session_id"]), final=False)
            if decided == "pending":
                self.pending.append((change, row, version))
            else:
                self.apply(change, row, version, decided)
            return
        if self.apply(change, row, version, "verified") and table == "sessions":
            key = SESSION + str(row["id"]).encode()
            if op == "DELETE":
                self.state.delete(key)
            else:
                self.state.set_bytes(key, self.site.encode())

    def session_site(self, session_id: str) -> str | None:
        value = self.state.get_bytes(SESSION + session_id.encode())
        return None if value is None else value.decode()

    def resolve(self, sessions_in_postgres: SessionSites) -> None:
        """Decide the events whose session the site's state did not hold, with one lookup."""
        missing = sorted(
            {
                str(row["session_id"])
                for _change, row, _version in self.pending
                if self.session_site(str(row["session_id"])) is None
            }
        )
        found = sessions_in_postgres(missing) if missing else {}
        for change, row, version in self.pending:
            session_id = str(row["session_id"])
            known = self.session_site(session_id) or found.get(session_id)
            self.apply(change, row, version, verdict(self.site, known, final=True))

    def load_day(self, day: str) -> DayAggregate:
        raw = self.state.get_bytes(DAY + day.encode())
        return DayAggregate() if raw is None else DayAggregate.from_json(orjson.loads(raw))

    def apply(
        self, change: dict[str, Any], row: dict[str, Any], version: Version, decided: Verdict
    ) -> bool:
        """Apply a row version if it supersedes the stored one; False when it is stale."""
        table, op = change["table"], change["op"]
        key = ROW + entity_key(table, row)
        raw = self.state.get_bytes(key)
        stored = None if raw is None else orjson.loads(raw)
        if not supersedes(
            version, change.get("source", ""), None if stored is None else stored["v"]
        ):
            return False
        verified = decided == "verified"
        new = NOTHING if op == "DELETE" else contribution(table, row, verified)
        updates = typed_updates(
            table,
            op,
            row,
            was_sealed=bool(stored and stored.get("s")),
            verified=verified,
            site_id=self.site,
            event_id=change["event_id"],
            commit_timestamp=change["commit_timestamp"],
        )
        old = NOTHING if stored is None else Contribution.from_json(stored["c"])
        touched: set[str] = set()
        if old != new:
            if old.cells:
                touched = apply_contribution(self.days, old, -1, self.load_day)
            if new.cells:
                touched |= apply_contribution(self.days, new, 1, self.load_day)
        sealed = op != "DELETE" and row.get("sealed_at") is not None
        self.state.set_bytes(key, orjson.dumps({"v": version, "c": new.to_json(), "s": sealed}))
        self.records.append(
            orjson.dumps(
                {
                    "site_id": self.site,
                    "event_id": change["event_id"],
                    "verdict": decided,
                    "commit_timestamp": change["commit_timestamp"],
                    "updates": updates,
                    "days": {day: self.days[day].totals for day in sorted(touched)},
                }
            )
        )
        return True

    def store_days(self) -> None:
        for day, aggregate in self.days.items():
            key = DAY + day.encode()
            if aggregate.is_empty():
                self.state.delete(key)
            else:
                self.state.set_bytes(key, orjson.dumps(aggregate.to_json()))
