"""The traffic plan: exact change count, exact forged count, forged rows claim a foreign site."""

from __future__ import annotations

from collections import Counter

from workers.traffic.plan import plan_site_ids, plan_traffic


def test_plan_has_the_requested_changes_and_forgeries() -> None:
    plan = plan_traffic(sites=5, changes=3_000, forged_ratio=0.01, seed=11)
    assert len(plan.statements) == 3_000
    assert plan.forged == round((3_000 - 5) * 0.01)
    kinds = Counter(f"{s.table}.{s.op}" for s in plan.statements)
    for kind in (
        "sessions.INSERT",
        "sessions.UPDATE",
        "events.INSERT",
        "events.DELETE",
        "calls.INSERT",
        "calls.UPDATE",
        "calls.DELETE",
        "intents.INSERT",
        "intents.UPDATE",
        "intents.DELETE",
    ):
        assert kinds[kind] > 0, kind


def test_a_plan_without_deletes_has_none_and_the_same_counts() -> None:
    plan = plan_traffic(sites=5, changes=3_000, forged_ratio=0.01, seed=11, deletes=False)
    assert len(plan.statements) == 3_000
    assert plan.forged == round((3_000 - 5) * 0.01)
    kinds = Counter(f"{s.table}.{s.op}" for s in plan.statements)
    assert not [kind for kind in kinds if kind.endswith(".DELETE")]
    assert kinds["intents.UPDATE"] > 0 and kinds["calls.UPDATE"] > 0


def test_forged_events_use_a_session_of_another_site() -> None:
    plan = plan_traffic(sites=3, changes=2_000, forged_ratio=0.05, seed=2)
    session_site = {
        s.params[0]: s.params[1]
        for s in plan.statements
        if s.table == "sessions" and s.op == "INSERT"
    }
    forged = [s for s in plan.statements if s.forged]
    assert forged
    for statement in forged:
        _event, session, claimed = statement.params[:3]
        assert session_site[session] != claimed
    honest = [
        s for s in plan.statements if s.table == "events" and s.op == "INSERT" and not s.forged
    ]
    assert all(session_site[s.params[1]] == s.params[2] for s in honest)


def test_plan_is_deterministic_for_a_seed() -> None:
    first = plan_traffic(sites=2, changes=300, forged_ratio=0.02, seed=5)
    second = plan_traffic(sites=2, changes=300, forged_ratio=0.02, seed=5)
    assert [s.params for s in first.statements] == [s.params for s in second.statements]


def test_the_sites_of_a_plan_are_known_from_its_seed_alone() -> None:
    plan = plan_traffic(sites=4, changes=200, forged_ratio=0.05, seed=11)
    assert plan_site_ids(4, 11) == plan.site_ids
    assert plan_site_ids(4, 12) != plan.site_ids
