"""The collector settings of the long-running processes."""

from __future__ import annotations

import gc

from workers.collector import YOUNG_THRESHOLD, quiet_collector


def test_quiet_collector_freezes_and_raises_the_young_threshold() -> None:
    before = gc.get_threshold()
    try:
        quiet_collector()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
