"""What the traffic generator writes: a seeded, pure plan of single-row statements.

Each ``Statement`` changes exactly one row, so the number of statements is the number of row
changes the WAL (and then ``supabase_changes``) carries. The plan keeps enough of each row in
memory to pick realistic follow-ups: heartbeats of live sessions, call status changes, intent
sealing, a few deletes, and a fixed number of ``events`` rows forged to claim a site other than
their session's. Forged rows are never updated or deleted afterwards, so every forged row yields
exactly one rejected change downstream.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

CALL_STATUSES = ("answered", "on_hold", "ended", "missed")
INTENT_STATUSES = ("qualified", "quoted", "negotiating")
EVENT_NAMES = ("page_view", "click", "scroll", "form_start", "form_submit", "video_play")

# Relative weights of the follow-up kinds once sites exist.
WEIGHTS: dict[str, int] = {
    "session_insert": 14,
    "session_heartbeat": 10,
    "event_insert": 34,
    "event_delete": 1,
    "call_insert": 8,
    "call_update": 8,
    "call_delete": 1,
    "intent_insert": 11,
    "intent_update": 6,
    "intent_seal": 6,
    "intent_delete": 1,
}


@dataclass(frozen=True)
class Statement:
    table: str
    op: str
    sql: str
    params: tuple[Any, ...]
    forged: bool = False


@dataclass
class _Rows:
    sessions: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)
    sealed: set[str] = field(default_factory=set)


@dataclass
class TrafficPlan:
    site_ids: list[str]
    statements: list[Statement]

    @property
    def forged(self) -> int:
        return sum(1 for statement in self.statements if statement.forged)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def plan_site_ids(sites: int, seed: int) -> list[str]:
    """The ids of the sites ``plan_traffic`` creates for ``sites`` and ``seed``, known before the
    traffic runs (the demo grants its page's user these sites)."""
    return _site_ids(random.Random(seed), sites)


def _site_ids(rng: random.Random, sites: int) -> list[str]:
    # The plan's first draws: the ids depend on the seed alone.
    return [_uuid(rng) for _ in range(sites)]


def plan_traffic(
    *,
    sites: int,
    changes: int,
    forged_ratio: float,
    seed: int,
    days: int = 2,
    now: datetime | None = None,
    deletes: bool = True,
) -> TrafficPlan:
    """``changes`` single-row statements (site inserts included) for ``sites`` sites.

    Row times fall in the last ``days`` UTC days before ``now`` so KPIs span several days; an
    intent may be sealed on a later day than it was created. Without ``deletes`` no row is
    deleted: for runs whose pushes may be lost, since a catch-up cannot read a deleted row back.
    """
    if sites < 1 or changes < sites:
        raise ValueError("need at least one site and at least one change per site")
    if sites < 2 and forged_ratio > 0:
        raise ValueError("forging a site needs at least two sites")
    rng = random.Random(seed)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0)
    span_s = max(1, int((now - start).total_seconds()))

    def moment() -> datetime:
        return start + timedelta(seconds=rng.randrange(span_s), microseconds=rng.randrange(10**6))

    site_ids = _site_ids(rng, sites)
    statements = [
        Statement(
            "sites", "INSERT", "INSERT INTO sites (id, name) VALUES (%s, %s)", (site, f"site {n}")
        )
        for n, site in enumerate(site_ids)
    ]
    rows = {site: _Rows() for site in site_ids}
    remaining = changes - sites
    forged_left = round(remaining * forged_ratio)
    chosen = {kind: w for kind, w in WEIGHTS.items() if deletes or not kind.endswith("_delete")}
    kinds, weights = list(chosen), list(chosen.values())

    while len(statements) < changes:
        site = rng.choice(site_ids)
        mine = rows[site]
        slots_left = changes - len(statements)
        if forged_left and (slots_left <= forged_left or rng.random() < forged_left / slots_left):
            statement = _forged_event(rng, site, site_ids, rows, moment)
            if statement is not None:
                statements.append(statement)
                forged_left -= 1
                continue
        kind = rng.choices(kinds, weights)[0]
        statements.append(_statement(kind, rng, site, mine, moment))
    return TrafficPlan(site_ids, statements)


def _forged_event(
    rng: random.Random, claimed: str, site_ids: list[str], rows: dict[str, _Rows], moment: Any
) -> Statement | None:
    owners = [site for site in site_ids if site != claimed and rows[site].sessions]
    if not owners:
        return None
    owner = rng.choice(owners)
    session = rng.choice(rows[owner].sessions)
    return Statement(
        "events",
        "INSERT",
        "INSERT INTO events (id, session_id, site_id, name, created_at) VALUES (%s, %s, %s, %s, %s)",
        (_uuid(rng), session, claimed, rng.choice(EVENT_NAMES), moment()),
        forged=True,
    )


def _statement(kind: str, rng: random.Random, site: str, mine: _Rows, moment: Any) -> Statement:
    if kind == "session_heartbeat" and mine.sessions:
        session = rng.choice(mine.sessions)
        return Statement(
            "sessions",
            "UPDATE",
            "UPDATE sessions SET last_seen_at = last_seen_at + interval '7 seconds' WHERE id = %s",
            (session,),
        )
    if kind in ("event_insert", "event_delete") and mine.sessions:
        if kind == "event_delete" and mine.events:
            event = mine.events.pop(rng.randrange(len(mine.events)))
            return Statement("events", "DELETE", "DELETE FROM events WHERE id = %s", (event,))
        event = _uuid(rng)
        mine.events.append(event)
        session = rng.choice(mine.sessions)
        return Statement(
            "events",
            "INSERT",
            "INSERT INTO events (id, session_id, site_id, name, created_at) VALUES (%s, %s, %s, %s, %s)",
            (event, session, site, rng.choice(EVENT_NAMES), moment()),
        )
    if kind in ("call_update", "call_delete") and mine.calls:
        if kind == "call_delete":
            call = mine.calls.pop(rng.randrange(len(mine.calls)))
            return Statement("calls", "DELETE", "DELETE FROM calls WHERE id = %s", (call,))
        return Statement(
            "calls",
            "UPDATE",
            "UPDATE calls SET status = %s WHERE id = %s",
            (rng.choice(CALL_STATUSES), rng.choice(mine.calls)),
        )
    if kind in ("intent_update", "intent_seal", "intent_delete") and mine.intents:
        if kind == "intent_delete":
            intent = mine.intents.pop(rng.randrange(len(mine.intents)))
            mine.sealed.discard(intent)
            return Statement("intents", "DELETE", "DELETE FROM intents WHERE id = %s", (intent,))
        intent = rng.choice(mine.intents)
        if kind == "intent_seal" and intent not in mine.sealed:
            mine.sealed.add(intent)
            return Statement(
                "intents",
                "UPDATE",
                "UPDATE intents SET status = 'sealed', "
                "sealed_at = created_at + make_interval(mins => %s) WHERE id = %s",
                (rng.randrange(1, 600), intent),
            )
        return Statement(
            "intents",
            "UPDATE",
            "UPDATE intents SET status = %s WHERE id = %s",
            (rng.choice(INTENT_STATUSES), intent),
        )
    if kind == "call_insert" and mine.sessions:
        call = _uuid(rng)
        mine.calls.append(call)
        return Statement(
            "calls",
            "INSERT",
            "INSERT INTO calls (id, site_id, session_id, created_at) VALUES (%s, %s, %s, %s)",
            (call, site, rng.choice(mine.sessions), moment()),
        )
    if kind == "intent_insert" and mine.sessions:
        intent = _uuid(rng)
        mine.intents.append(intent)
        return Statement(
            "intents",
            "INSERT",
            "INSERT INTO intents (id, site_id, session_id, created_at) VALUES (%s, %s, %s, %s)",
            (intent, site, rng.choice(mine.sessions), moment()),
        )
    session = _uuid(rng)
    started = moment()
    mine.sessions.append(session)
    return Statement(
        "sessions",
        "INSERT",
        "INSERT INTO sessions (id, site_id, started_at, last_seen_at) VALUES (%s, %s, %s, %s)",
        (session, site, started, started),
    )
