from __future__ import annotations

from itertools import islice

import pytest

from workers.chaos.plan import (
    EARLIEST_AT_S,
    FAULT_KINDS,
    FREEZE_BROKER,
    FREEZE_MAX_S,
    FREEZE_MIN_S,
    LATEST_AT_S,
    WIPE_STATE,
    WORKERS,
    fault_sequence,
    parse_faults,
)


def test_the_same_seed_gives_the_same_faults() -> None:
    first = list(islice(fault_sequence(7, FAULT_KINDS), 30))
    assert first == list(islice(fault_sequence(7, FAULT_KINDS), 30))
    assert first != list(islice(fault_sequence(8, FAULT_KINDS), 30))


def test_every_kind_comes_once_before_any_comes_again() -> None:
    faults = list(islice(fault_sequence(3, FAULT_KINDS), 3 * len(FAULT_KINDS)))
    for start in range(0, len(faults), len(FAULT_KINDS)):
        kinds = [f.kind for f in faults[start : start + len(FAULT_KINDS)]]
        assert sorted(kinds) == sorted(FAULT_KINDS)


def test_timing_and_targets_stay_in_bounds() -> None:
    for fault in islice(fault_sequence(11, FAULT_KINDS), 200):
        assert EARLIEST_AT_S <= fault.at_s <= LATEST_AT_S
        if fault.kind == FREEZE_BROKER:
            assert fault.freeze_s is not None
            assert FREEZE_MIN_S <= fault.freeze_s <= FREEZE_MAX_S
        else:
            assert fault.freeze_s is None
        if fault.kind == WIPE_STATE:
            assert fault.worker in WORKERS
            assert fault.worker in fault.label


def test_a_chosen_subset_is_all_that_is_drawn() -> None:
    kinds = parse_faults("kill-ingest, freeze-broker,kill-ingest")
    assert kinds == ("kill-ingest", "freeze-broker")
    assert {f.kind for f in islice(fault_sequence(1, kinds), 20)} == set(kinds)


@pytest.mark.parametrize("text", ["kill-everything", "", " , "])
def test_unknown_or_no_faults_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="kill-ingest"):
        parse_faults(text)
