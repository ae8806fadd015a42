"""When a rebuild counts as complete."""

from __future__ import annotations

from workers.tools.reading import PartitionBounds
from workers.tools.rebuild import consumed, lag, rebuild_topic

BOUNDS = {0: PartitionBounds(0, 0, 10), 1: PartitionBounds(1, 0, 0), 2: PartitionBounds(2, 4, 8)}


def test_complete_only_when_every_partition_with_records_is_committed_to_its_end() -> None:
    assert consumed({0: 10, 1: None, 2: 8}, BOUNDS)
    assert not consumed({0: 9, 1: None, 2: 8}, BOUNDS)
    assert not consumed({0: 10, 1: None, 2: None}, BOUNDS)
    # An empty partition never gets a commit, and needs none.
    assert consumed({0: 10, 2: 8}, BOUNDS)


def test_lag_counts_records_not_yet_committed() -> None:
    assert lag({0: 7, 1: None, 2: None}, BOUNDS) == 3 + 0 + 4
    assert lag({0: 10, 2: 8}, BOUNDS) == 0


def test_rebuild_output_goes_to_its_own_topic() -> None:
    assert rebuild_topic("dashboard_updates", "pulse-v2") == "dashboard_updates.rebuild.pulse-v2"
