"""The batch processor: scoping, rejects with reasons, dedup, waiting sessions, update schemas."""

from __future__ import annotations

import random
from typing import Any

import orjson

from schemas.changes import RejectedRecord
from schemas.updates import dashboard_update_adapter
from tests.unit.stream.simulation import DictState, Simulation, envelope, lookup_from
from workers.changes.keying import KeyedChange, key_change
from workers.stream.processing import BatchOutput, BatchProcessor, failed_message_rejects
from workers.stream.rules.accounting import Tally
from workers.stream.rules.kpis import CALLS, DayAggregate


async def run_batches(
    processor: BatchProcessor, state: DictState, batches: list[list[tuple[int, bytes]]]
) -> list[BatchOutput]:
    outputs = []
    for messages in batches:
        output = await processor.process(messages, state)
        state.persist(output)
        outputs.append(output)
    return outputs


def simulated(seed: int = 3) -> Simulation:
    sim = Simulation(random.Random(seed), ["site-a", "site-b"])
    for _ in range(80):
        sim.transaction(3)
    return sim


def per_site_messages(changes: list[dict[str, Any]]) -> list[tuple[int, bytes]]:
    by_site: dict[str, list[dict[str, Any]]] = {}
    for change in changes:
        by_site.setdefault(change["site_id"], []).append(change)
    return [(0 if site == "site-a" else 1, envelope(items)) for site, items in by_site.items()]


async def test_forged_events_are_rejected_and_updates_stay_in_their_site() -> None:
    sim = simulated()
    assert sim.forged > 0
    state = DictState()
    processor = BatchProcessor(lookup_from(sim.session_sites()))
    batches = [per_site_messages(sim.changes[i : i + 25]) for i in range(0, len(sim.changes), 25)]
    outputs = await run_batches(processor, state, batches)
    rejects = [RejectedRecord.model_validate_json(v) for o in outputs for _k, v in o.rejects]
    sessions = sim.session_sites()
    forged_changes = [
        c
        for c in sim.changes
        if c["table"] == "events"
        and c["op"] != "DELETE"
        and sessions[c["record"]["session_id"]] != c["site_id"]
    ]
    assert sim.forged > 0
    assert sorted(r.event_id or "" for r in rejects) == sorted(
        c["event_id"] for c in forged_changes
    )
    assert {r.reason for r in rejects} == {"site_mismatch"}
    forged_ids = {r.event_id for r in rejects}
    for output in outputs:
        for site, raw in output.updates:
            update = dashboard_update_adapter.validate_json(raw)
            assert update.site_id == site
            assert not forged_ids & set(update.event_ids)
            for event_id in update.event_ids:
                change = next(c for c in sim.changes if c["event_id"] == event_id)
                assert change["site_id"] == site
    assert state.kpis() == sim.expected_kpis()
    tally = sum((o.counts.tally() for o in outputs), Tally())
    assert tally == Tally(
        consumed=len(sim.changes),
        admitted=len(sim.changes) - tally.stale - len(rejects),
        stale=tally.stale,
        rejected=len(rejects),
    )


async def test_duplicates_are_counted_and_produce_nothing() -> None:
    sim = simulated(5)
    state = DictState()
    processor = BatchProcessor(lookup_from(sim.session_sites()))
    first = await run_batches(processor, state, [per_site_messages(sim.changes)])
    again = await run_batches(processor, state, [per_site_messages(sim.changes)])
    assert again[0].counts.duplicates == len(sim.changes)
    assert again[0].updates == [] and again[0].rejects == []
    assert first[0].counts.applied + first[0].counts.stale == len(sim.changes)
    assert again[0].counts.tally() == Tally(consumed=len(sim.changes), duplicates=len(sim.changes))
    assert first[0].counts.tally().unaccounted == 0


async def test_an_event_waits_for_its_session_within_the_batch_then_asks_postgres_once() -> None:
    sim = Simulation(random.Random(1), ["site-a"])
    sim.operation()  # a session (there is none yet, so the first operation creates one)
    session_change = sim.changes[0]
    sim.rows["events"]["e-x"] = {}
    event = {
        **session_change,
        "table": "events",
        "op": "INSERT",
        "record": {
            "id": "e-x",
            "session_id": session_change["record"]["id"],
            "site_id": "site-a",
            "name": "v",
            "created_at": "2026-11-21T10:00:00.000000Z",
        },
        "event_id": "events:e-x:1:ab",
    }
    lookup = lookup_from({})
    processor = BatchProcessor(lookup)
    state = DictState()
    # The event comes before its session in the same batch: it waits and is verified, no lookup.
    output = await processor.process([(0, envelope([event, session_change]))], state)
    assert output.counts.rejected == 0 and lookup.calls == []
    assert any(orjson.loads(v)["type"] == "event_created" for _s, v in output.updates)
    # A session nobody knows: Postgres (here: an empty lookup) decides, in one call.
    ghost = {
        **event,
        "event_id": "events:e-y:2:cd",
        "record": {**event["record"], "id": "e-y", "session_id": "nobody"},
    }
    output = await processor.process([(0, envelope([ghost]))], DictState())
    assert lookup.calls == [["nobody"]]
    assert [orjson.loads(v)["reason"] for _k, v in output.rejects] == ["unknown_session"]


async def test_malformed_envelopes_and_changes_are_quarantined_not_raised() -> None:
    processor = BatchProcessor(lookup_from({}))
    good_site = {"site_id": "s", "changes": [{"event_id": 5}, {"table": "calls"}, "x"]}
    output = await processor.process(
        [(0, b"not json"), (0, b'{"changes": []}'), (0, orjson.dumps(good_site))], DictState()
    )
    reasons = [orjson.loads(v)["reason"] for _k, v in output.rejects]
    assert reasons == ["malformed"] * 5
    # The two broken envelopes count as one consumed item each; the empty one holds nothing.
    assert output.counts.tally() == Tally(consumed=5, rejected=5)


async def test_an_event_waiting_for_its_session_with_a_bad_timestamp_is_quarantined() -> None:
    # Its session is unknown to the stream, so it is only applied after the Postgres lookup at
    # the end of the batch: the bad timestamp surfaces there, not while the change is read.
    sim = simulated(11)
    good = next(c for c in sim.changes if c["site_id"] == "site-a" and c["table"] == "calls")
    event = next(c for c in sim.changes if c["table"] == "events" and c["op"] == "INSERT")
    bad = {**event, "record": {**event["record"], "created_at": "infinity"}}
    output = await BatchProcessor(lookup_from(sim.session_sites())).process(
        [(0, envelope([bad])), (0, envelope([good]))], DictState()
    )
    assert [orjson.loads(v)["reason"] for _k, v in output.rejects] == ["malformed"]
    assert "infinity" in orjson.loads(output.rejects[0][1])["detail"]
    assert any(good["event_id"] in orjson.loads(v)["event_ids"] for _k, v in output.updates)


def test_a_message_the_processing_raised_on_is_quarantined_change_by_change() -> None:
    sim = simulated(13)
    changes = [c for c in sim.changes if c["site_id"] == "site-b"][:3]
    records = failed_message_rejects(envelope(changes), "ZeroDivisionError: boom")
    assert [key for key, _value in records] == ["site-b"] * 3
    parsed = [RejectedRecord.model_validate_json(value) for _key, value in records]
    assert [r.event_id for r in parsed] == [c["event_id"] for c in changes]
    assert {(r.reason, r.detail, r.site_id) for r in parsed} == {
        ("processing_error", "ZeroDivisionError: boom", "site-b")
    }
    [(key, value)] = failed_message_rejects(b"\xff" * 10_000, "boom")
    unreadable = RejectedRecord.model_validate_json(value)
    assert key == "unknown" and unreadable.reason == "processing_error"
    assert len(unreadable.payload["raw"]) == 4096


async def test_a_change_claiming_another_site_than_its_envelope_is_malformed() -> None:
    sim = simulated(9)
    change = next(c for c in sim.changes if c["site_id"] == "site-a")
    output = await BatchProcessor(lookup_from({})).process(
        [(1, orjson.dumps({"site_id": "site-b", "changes": [change]}))], DictState()
    )
    assert output.updates == []
    assert [orjson.loads(v)["reason"] for _k, v in output.rejects] == ["malformed"]


async def test_freshness_at_most_once_per_second_and_kpis_once_per_day_per_batch() -> None:
    sim = simulated(4)
    now = [1000.0]
    processor = BatchProcessor(lookup_from(sim.session_sites()), clock=lambda: now[0])
    state = DictState()
    halves = [sim.changes[: len(sim.changes) // 2], sim.changes[len(sim.changes) // 2 :]]
    kinds = []
    for half in halves:
        output = await processor.process(per_site_messages(half), state)
        state.persist(output)
        kinds.append([orjson.loads(v) for _s, v in output.updates])
    assert sum(u["type"] == "data_freshness" for u in kinds[0]) == 2
    assert sum(u["type"] == "data_freshness" for u in kinds[1]) == 0  # same second
    for updates in kinds:
        days = [(u["site_id"], u["kpis"]["day"]) for u in updates if u["type"] == "kpi_updated"]
        assert len(days) == len(set(days))
        for site in ("site-a", "site-b"):
            seqs = [u["seq"] for u in updates if u["site_id"] == site]
            assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


async def test_a_row_set_back_within_a_transaction_ends_in_its_last_state() -> None:
    # A, B, then A again in one transaction: the two A changes share their event ID (same
    # operation, row, key and commit time) and only their WAL positions differ.
    created = "2026-11-23T08:00:00.000000Z"
    open_row = {"id": "i-1", "site_id": "site-a", "status": "open", "sealed_at": None}
    open_row["created_at"] = created
    sealed_row = dict(open_row, status="sealed", sealed_at="2026-11-23T08:05:00.000000Z")

    def wal(op: str, new: dict[str, Any], old: dict[str, Any] | None, ms: int, lsn: int) -> Any:
        keyed = key_change(
            op=op,
            schema="public",
            table="intents",
            record=new,
            old_record=old,
            commit_ms=ms,
            source="wal",
            lsn=lsn,
        )
        assert isinstance(keyed, KeyedChange)
        return keyed.body

    inserted = wal("INSERT", open_row, None, 1_795_000_000_000, 100)
    first = wal("UPDATE", open_row, open_row, 1_795_000_060_000, 200)
    sealed = wal("UPDATE", sealed_row, open_row, 1_795_000_060_000, 210)
    back = wal("UPDATE", open_row, sealed_row, 1_795_000_060_000, 220)
    assert back["event_id"] == first["event_id"]
    state = DictState()
    processor = BatchProcessor(lookup_from({}))
    outputs = await run_batches(
        processor, state, [[(0, envelope([inserted, first, sealed]))], [(0, envelope([back]))]]
    )
    assert outputs[1].counts.duplicates == 0
    (kpis,) = state.kpis().values()
    assert (kpis["intents"], kpis["conversions"]) == (1, 0)
    # re-deliveries of any of them are duplicates
    again = await run_batches(processor, state, [[(0, envelope([first, sealed, back]))]])
    assert again[0].counts.duplicates == 3
    assert again[0].updates == []
    assert [(k["intents"], k["conversions"]) for k in state.kpis().values()] == [(1, 0)]


async def test_entity_states_stored_before_row_versions_are_still_read() -> None:
    """A state stored by an earlier release (three-field version) meets a versioned change: the
    commit-time rule decides, and the new state is stored with its row order."""
    row = {"id": "c-1", "site_id": "site-a", "status": "answered", "row_version": 5}
    row["created_at"] = row["updated_at"] = "2026-11-23T08:00:00.000000Z"
    keyed = key_change(
        op="UPDATE",
        schema="public",
        table="calls",
        record=row,
        old_record={"id": "c-1"},
        commit_ms=1_795_000_060_000,
        source="realtime",
    )
    assert isinstance(keyed, KeyedChange)
    state = DictState()
    old_format = {"v": [1_795_000_000_000, -1, "aa"], "c": [[["2026-11-23", 96, 2]], None]}
    state.data[("entities", 0)][b"calls:c-1"] = orjson.dumps({**old_format, "s": False})
    day = DayAggregate()
    day.add(96, CALLS, 1)
    state.data[("days", 0)][b"site-a|2026-11-23"] = orjson.dumps(day.to_json())
    processor = BatchProcessor(lookup_from({}))
    [output] = await run_batches(processor, state, [[(0, envelope([keyed.body]))]])
    assert output.counts.applied == 1
    stored = orjson.loads(state.data[("entities", 0)][b"calls:c-1"])
    assert stored["v"] == [1_795_000_060_000, -1, keyed.body["event_id"].rsplit(":", 1)[1], 10]
    assert [k["calls"] for k in state.kpis().values()] == [1]


async def test_a_row_version_that_is_no_number_is_quarantined() -> None:
    row = {"id": "c-2", "site_id": "site-a", "status": "answered", "row_version": "soon"}
    row["created_at"] = row["updated_at"] = "2026-11-23T08:00:00.000000Z"
    keyed = key_change(
        op="INSERT",
        schema="public",
        table="calls",
        record=row,
        old_record=None,
        commit_ms=1_795_000_060_000,
        source="realtime",
    )
    assert isinstance(keyed, KeyedChange)
    output = await BatchProcessor(lookup_from({})).process(
        [(0, envelope([keyed.body]))], DictState()
    )
    [(_key, raw)] = output.rejects
    reject = RejectedRecord.model_validate_json(raw)
    assert reject.reason == "malformed" and "row_version must be a non-negative integer" in (
        reject.detail
    )
