from __future__ import annotations

from tests.unit.gateway.updates import SITE, kpi
from workers.gateway.replay import FUTURE_SLACK_US, plan_start
from workers.gateway.site_state import SiteState

NOW_US = 1_800_000_000_000_000


def filled(seqs: list[int], replay: int = 10, floor: int | None = -1) -> SiteState:
    site = SiteState(SITE, replay_size=replay, ledger_size=5, floor=floor)
    for seq in seqs:
        site.apply(kpi(seq), f"f{seq}".encode())
    return site


def test_a_new_client_gets_a_snapshot_and_nothing_older_live() -> None:
    start = plan_start(filled([1, 2, 3]), None, NOW_US)
    assert start.snapshot and not start.reset and start.frames == []
    assert start.skip_through == 3


def test_a_resuming_client_gets_exactly_what_it_missed() -> None:
    start = plan_start(filled([1, 2, 3, 4]), 2, NOW_US)
    assert not start.snapshot and not start.reset
    assert start.frames == [b"f3", b"f4"]
    assert start.skip_through == 4


def test_a_position_past_what_is_held_gets_reset_and_snapshot() -> None:
    start = plan_start(filled([1, 2, 3, 4, 5], replay=2), 2, NOW_US)
    assert start.reset and start.snapshot and start.frames == []


def test_a_position_ahead_of_this_replica_waits_for_it() -> None:
    start = plan_start(filled([1, 2]), 5, NOW_US)
    assert not start.snapshot and not start.reset and start.frames == []
    assert start.skip_through == 5


def test_a_position_far_in_the_future_is_reset() -> None:
    start = plan_start(filled([1, 2]), NOW_US + FUTURE_SLACK_US + 1, NOW_US)
    assert start.reset and start.snapshot


def test_an_unknown_site_with_deleted_history_is_reset() -> None:
    start = plan_start(filled([], floor=None), 5, NOW_US)
    assert start.reset and start.snapshot
