"""The committed tally: sums, balance, and its stored form."""

from __future__ import annotations

from workers.stream.rules.accounting import Tally


def test_tallies_add_field_by_field_and_round_trip_through_bytes() -> None:
    total = Tally(consumed=5, admitted=3, rejected=2) + Tally(consumed=4, stale=1, duplicates=3)
    assert total == Tally(consumed=9, admitted=3, stale=1, duplicates=3, rejected=2)
    assert total.unaccounted == 0
    assert Tally.from_bytes(total.to_bytes()) == total
    assert Tally.from_bytes(None) == Tally()


def test_unaccounted_shows_a_lost_change_and_an_outcome_counted_twice() -> None:
    assert Tally(consumed=3, admitted=2).unaccounted == 1
    assert Tally(consumed=3, admitted=2, rejected=2).unaccounted == -1
