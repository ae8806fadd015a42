from __future__ import annotations

from datetime import date

from schemas.updates import KpiSnapshot
from workers.chaos.accounting import (
    Observed,
    Segment,
    caught_up,
    difference,
    kpi_findings,
    published_all,
    run_findings,
    segment_findings,
    tally_findings,
)
from workers.stream.rules.accounting import Tally

DAY = date(2026, 12, 5)
SITES = ("site-a", "site-b")


def exact(consumed: int, rejected: int = 0, duplicates: int = 0) -> Tally:
    return Tally(consumed, consumed - rejected - duplicates, 0, duplicates, rejected)


def test_caught_up_only_when_every_partition_counts_its_changes() -> None:
    assert caught_up({0: 5, 1: 3}, {0: exact(5), 1: exact(3)})
    assert not caught_up({0: 5, 1: 3}, {0: exact(5)})
    assert not caught_up({0: 5}, {0: exact(4)})
    assert caught_up({}, {})


def test_exact_tallies_find_nothing() -> None:
    assert tally_findings({0: 5, 1: 3}, {0: exact(5, rejected=1), 1: exact(3)}).ok


def test_a_change_no_tally_counts_is_lost() -> None:
    findings = tally_findings({0: 5, 1: 3}, {0: exact(5), 1: exact(2)})
    assert (findings.lost, findings.double_counted) == (1, 0)
    assert "partition 1" in findings.reasons[0]


def test_a_change_counted_beyond_the_topic_is_double_counted() -> None:
    findings = tally_findings({0: 5}, {0: exact(6)})
    assert (findings.lost, findings.double_counted) == (0, 1)


def test_outcomes_that_do_not_add_up_are_found() -> None:
    assert tally_findings({0: 5}, {0: Tally(5, 3, 0, 0, 1)}).lost == 1
    assert tally_findings({0: 5}, {0: Tally(5, 5, 0, 1, 0)}).double_counted == 1


def test_a_change_committed_but_never_published_is_lost() -> None:
    segment = Segment(SITES, written=10, forged=0)
    assert segment_findings(segment, {"site-a": 6, "site-b": 4}, {}).ok
    findings = segment_findings(segment, {"site-a": 6, "site-b": 3}, {})
    assert findings.lost == 1
    assert published_all([segment], {"site-a": 6, "site-b": 4})
    assert not published_all([segment], {"site-a": 6, "site-b": 3})


def test_forged_rows_must_be_rejected_one_for_one() -> None:
    segment = Segment(SITES, written=None, forged=2)
    once = {"site-a": {"e1": 1}, "site-b": {"e2": 1}}
    assert segment_findings(segment, {}, once).ok
    missing = segment_findings(segment, {}, {"site-a": {"e1": 1}})
    assert (missing.lost, missing.double_counted) == (1, 0)
    twice = segment_findings(segment, {}, {"site-a": {"e1": 2}, "site-b": {"e2": 1}})
    assert (twice.lost, twice.double_counted) == (0, 1)


def test_kpis_below_sql_are_lost_and_above_are_double_counted() -> None:
    sql = {("site-a", DAY): KpiSnapshot(day=DAY, sessions=4, events=10, calls=2)}
    assert kpi_findings(dict(sql), sql).ok
    told = {("site-a", DAY): KpiSnapshot(day=DAY, sessions=4, events=9, calls=3)}
    findings = kpi_findings(told, sql)
    assert (findings.lost, findings.double_counted) == (1, 1)
    assert kpi_findings({}, sql).lost == 16


def test_run_findings_add_every_ledger() -> None:
    observed = Observed(
        on_topic={0: 10},
        distinct_by_site={"site-a": 5, "site-b": 4},
        tallies={0: exact(9)},
        rejections_by_site={},
    )
    findings = run_findings(observed, [Segment(SITES, written=10, forged=1)], {}, {})
    # one change never published, one on the topic never counted, one forged row not rejected
    assert findings.lost == 3
    assert len(findings.reasons) == 3


def test_difference_is_what_was_counted_in_between() -> None:
    assert difference(Tally(10, 7, 1, 1, 1), Tally(4, 3, 0, 1, 0)) == Tally(6, 4, 1, 0, 1)
