"""Property: Realtime pushes and catch-up reads of the same rows, mixed in any order, end every row
at its committed state.

Histories are made of the cases that a commit millisecond cannot order: several statements on one
row in one transaction (an intent qualified then sealed), transactions on one row in the same
millisecond, A-B-A, and transactions that start before the previous one commits. Catch-up reads
happen between any two transactions and once after the last, as the periodic catch-up does.
Pushes arrive late, twice or not at all (never a DELETE's: a catch-up cannot read a deleted row
back). Each row must end with its database state in the KPIs, in the ledger (its latest
``call_*``/``intent_*`` update) and in the worker's stored version.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.updates import dashboard_update_adapter
from tests.unit.stream.realtime_history import TABLES, History, Statement
from tests.unit.stream.simulation import DictState, envelope, lookup_from
from workers.ingest.realtime.changes import CATCHUP_COLUMN_TYPES
from workers.stream.processing import ENTITIES, BatchProcessor
from workers.tools.ledger import PublishedRow, compare_rows, keep_latest_row

SITES = ["11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"]

picks = st.integers(0, 5)
any_statement = st.tuples(
    st.sampled_from(["insert", "update", "update", "seal", "unseal", "delete"]),
    st.sampled_from(TABLES),
    picks,
    st.integers(0, 2),
)
# The issue's seal: one intent qualified, then sealed, in one transaction.
seal_pattern = picks.map(lambda p: [("update", "intents", p, 1), ("seal", "intents", p, 0)])
# A, B, A on one row in one transaction: the first and last states have the same content.
aba_pattern = st.tuples(st.sampled_from(TABLES), picks, st.integers(0, 2), st.integers(1, 2)).map(
    lambda t: [
        ("update", t[0], t[1], t[2]),
        ("update", t[0], t[1], t[2] + t[3]),
        ("update", t[0], t[1], t[2]),
    ]
)
transactions = st.tuples(
    st.one_of(st.lists(any_statement, min_size=1, max_size=4), seal_pattern, aba_pattern),
    st.integers(0, 3000),  # how long before the previous commit it started (µs)
    st.integers(0, 1500),  # from its last statement to its commit (µs): same-ms commits
)


def histories(
    plan: list[tuple[list[Statement], int, int]], catch_up_after: set[int]
) -> tuple[History, list[tuple[int, dict[str, Any]]]]:
    """The database after ``plan`` (two inserts per table first), and every catch-up record with
    the transaction count it was read after."""
    history = History(random.Random(len(plan)), SITES)
    history.transaction([("insert", table, 0, 0) for table in TABLES for _ in (1, 2)], 0, 300)
    reads: list[tuple[int, dict[str, Any]]] = []
    for statements, start_back_us, gap_us in plan:
        history.transaction(statements, start_back_us, gap_us)
        if history.transactions in catch_up_after:
            reads += [(history.transactions, record) for record in history.catch_up()]
    reads += [(history.transactions, record) for record in history.catch_up()]
    return history, reads


def deliveries(
    history: History, reads: list[tuple[int, dict[str, Any]]], rng: random.Random, shuffle: bool
) -> list[dict[str, Any]]:
    """Pushes (some late, some twice, some lost) and catch-up records, in arrival order.

    Each record arrives after the transaction it belongs to (its commit, or its read) plus a
    random delay; with ``shuffle``, in any order at all.
    """
    timed: list[tuple[float, dict[str, Any]]] = []
    for position, change in history.pushes:
        copies = rng.choice([0, 1, 1, 1, 2]) if change["op"] != "DELETE" else 1
        timed += [(position + rng.uniform(0, 3), change) for _ in range(copies)]
    timed += [(position + rng.uniform(0, 3), record) for position, record in reads]
    if shuffle:
        rng.shuffle(timed)
    else:
        timed.sort(key=lambda item: item[0])
    return [change for _, change in timed]


def process(
    stream: list[dict[str, Any]], rng: random.Random
) -> tuple[DictState, dict[tuple[str, str], PublishedRow]]:
    """Batches of the stream through the worker's processing; its state and published ledger."""
    state = DictState()
    processor = BatchProcessor(lookup_from({}))
    ledger: dict[tuple[str, str], PublishedRow] = {}
    offset = 0
    position = 0
    while position < len(stream):
        size = rng.randrange(1, 12)
        chunk = stream[position : position + size]
        position += size
        by_site: dict[str, list[dict[str, Any]]] = {}
        for change in chunk:
            by_site.setdefault(change["site_id"], []).append(change)
        messages = [(SITES.index(site), envelope(changes)) for site, changes in by_site.items()]
        output = asyncio.run(processor.process(messages, state))
        assert output.counts.tally().unaccounted == 0 and output.counts.rejected == 0
        for _site, raw in output.updates:
            keep_latest_row(ledger, dashboard_update_adapter.validate_json(raw), offset)
            offset += 1
        state.persist(output)
    return state, ledger


def stored_orders(state: DictState) -> dict[tuple[str, str], int]:
    orders = {}
    for (table, _partition), entries in state.data.items():
        if table == ENTITIES:
            for key, value in entries.items():
                row_table, row_id = key.decode().split(":", 1)
                orders[(row_table, row_id)] = orjson.loads(value)["v"][3]
    return orders


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plan=st.lists(transactions, min_size=1, max_size=20),
    catch_up_after=st.sets(st.integers(1, 21), max_size=6),
    seed=st.integers(0, 2**32),
    shuffle=st.booleans(),
)
def test_pushes_and_catch_up_reads_in_any_order_end_at_the_database_state(
    plan: list[tuple[list[Statement], int, int]],
    catch_up_after: set[int],
    seed: int,
    shuffle: bool,
) -> None:
    rng = random.Random(seed)
    history, reads = histories(plan, catch_up_after)
    state, ledger = process(deliveries(history, reads, rng, shuffle), rng)

    assert state.kpis() == history.expected_kpis()
    assert compare_rows(history.rows, ledger, CATCHUP_COLUMN_TYPES) == []
    orders = stored_orders(state)
    for key, row in history.rows.items():
        assert orders[key] == 2 * row["row_version"], key
    for table, row_id in orders.keys() - history.rows.keys():
        assert orders[(table, row_id)] % 2 == 1, "a deleted row's stored state is its DELETE"


def test_the_issue_trace_a_catch_up_read_between_a_seal_and_its_pushes() -> None:
    """The seal of one intent: qualified then sealed in one transaction of one millisecond; the
    catch-up reads the sealed row before both pushes arrive, the first of which has the same
    commit millisecond and the second the catch-up record's event ID."""
    history = History(random.Random(1), SITES)
    history.transaction([("insert", "intents", 0, 0)], 0, 300)
    history.transaction([("update", "intents", 0, 1), ("seal", "intents", 0, 0)], 0, 200)
    [(_, qualified), (_, sealed)] = history.pushes[1:]
    [read] = history.catch_up()
    assert read["event_id"] == sealed["event_id"]
    assert read["commit_timestamp"][:23] == qualified["commit_timestamp"][:23]
    stream = [history.pushes[0][1], read, qualified, sealed]

    state, ledger = process(stream, random.Random(2))

    [intent] = history.rows.values()
    assert intent["status"] == "sealed" and intent["sealed_at"] is not None
    assert compare_rows(history.rows, ledger, CATCHUP_COLUMN_TYPES) == []
    assert state.kpis() == history.expected_kpis()
    assert [k["conversions"] for k in state.kpis().values()] == [1]
