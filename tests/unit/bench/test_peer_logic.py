"""The peer's per-message work: the worker's rules, one envelope at a time, state per site."""

from __future__ import annotations

import random
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.stream.simulation import Simulation, envelope
from tests.unit.stream.test_replay_property import SITES, deliveries
from workers.bench.peer_logic import SESSION, process_message
from workers.bench.site_day_totals import Totals, differences, peer_totals
from workers.stream.rules.kpis import KINDS


class DictPeerState:
    """One site's state, as Quix scopes it to the message key."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def get_bytes(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def set_bytes(self, key: bytes, value: bytes) -> None:
        self.data[key] = value

    def delete(self, key: bytes) -> None:
        self.data.pop(key, None)


class Peer:
    def __init__(self, sessions: dict[str, str]) -> None:
        self.states: dict[str, DictPeerState] = {}
        self.sessions = sessions
        self.lookups: list[list[str]] = []
        self.records: list[bytes] = []

    def lookup(self, ids: list[str]) -> dict[str, str]:
        self.lookups.append(ids)
        return {sid: self.sessions[sid] for sid in ids if sid in self.sessions}

    def message(self, changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        state = self.states.setdefault(changes[0]["site_id"], DictPeerState())
        result = process_message(envelope(changes), state, self.lookup)
        assert result.changes == len(changes)
        self.records += result.records
        return [orjson.loads(record) for record in result.records]


def simulated(seed: int = 5, transactions: int = 40) -> Simulation:
    sim = Simulation(random.Random(seed), SITES)
    for _ in range(transactions):
        sim.transaction(3)
    return sim


def truth(sim: Simulation) -> dict[tuple[str, str], Totals]:
    return {key: tuple(kpis[kind] for kind in KINDS) for key, kpis in sim.expected_kpis().items()}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), transactions=st.integers(5, 50), shuffle=st.booleans())
def test_duplicates_replays_and_disorder_leave_the_sql_totals(
    seed: int, transactions: int, shuffle: bool
) -> None:
    rng = random.Random(seed)
    sim = Simulation(rng, SITES)
    for _ in range(transactions):
        sim.transaction(rng.randrange(1, 6))
    stream = deliveries(sim, rng, shuffle)
    peer = Peer(sim.session_sites())
    position = 0
    while position < len(stream):
        size = rng.randrange(1, 8)
        by_site: dict[str, list[dict[str, Any]]] = {}
        for change in stream[position : position + size]:
            by_site.setdefault(change["site_id"], []).append(change)
        position += size
        for changes in by_site.values():
            peer.message(changes)
    expected = truth(sim)
    assert expected
    assert differences(expected, peer_totals(peer.records)) == []


def test_one_record_per_applied_change_and_none_for_a_redelivery() -> None:
    sim = simulated()
    peer = Peer(sim.session_sites())
    # In commit order every change supersedes the row's stored version, so each is applied.
    first = [record for change in sim.changes for record in peer.message([change])]
    assert [record["event_id"] for record in first] == [c["event_id"] for c in sim.changes]
    again = [record for change in sim.changes for record in peer.message([change])]
    assert again == []


def test_an_older_version_of_a_row_is_stale_and_produces_nothing() -> None:
    sim = simulated()
    updates = [c for c in sim.changes if c["op"] == "UPDATE" and c["table"] == "calls"]
    assert updates
    later = updates[-1]
    # Another event ID (no re-delivery) at a commit time before the stored version's.
    older = dict(later, event_id=later["event_id"].rsplit(":", 2)[0] + ":1:older")
    peer = Peer(sim.session_sites())
    for change in sim.changes:
        peer.message([change])
    assert peer.message([older]) == []


def test_a_forged_event_is_decided_by_postgres_and_counts_nowhere() -> None:
    sim = simulated(seed=9, transactions=80)
    assert sim.forged > 0
    peer = Peer(sim.session_sites())
    verdicts: dict[str, str] = {}
    for change in sim.changes:
        for record in peer.message([change]):
            verdicts[record["event_id"]] = record["verdict"]
    forged = [
        change
        for change in sim.changes
        if change["table"] == "events"
        and change["op"] == "INSERT"
        and sim.session_sites()[change["record"]["session_id"]] != change["site_id"]
    ]
    assert forged
    for change in forged:
        assert verdicts[change["event_id"]] == "site_mismatch"
    # Postgres is asked only about sessions the event's own site does not hold: forged ones.
    asked = {sid for ids in peer.lookups for sid in ids}
    assert asked == {change["record"]["session_id"] for change in forged}


def test_sessions_of_a_site_are_kept_in_its_own_state() -> None:
    sim = simulated()
    peer = Peer(sim.session_sites())
    for change in sim.changes:
        peer.message([change])
    for sid, site in sim.session_sites().items():
        assert peer.states[site].get_bytes(SESSION + sid.encode()) == site.encode()
