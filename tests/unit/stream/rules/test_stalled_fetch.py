from workers.stream.rules.stalled_fetch import StalledFetchCheck


def test_a_partition_fetched_ahead_of_an_idle_agent_on_two_checks_is_fetched_again() -> None:
    check = StalledFetchCheck()
    assert check.check({3: 184, 1: 247}, {3: 246, 1: 247}, handled=10, busy=False) == {}
    assert check.check({3: 184, 1: 247}, {3: 246, 1: 247}, handled=10, busy=False) == {3: 184}


def test_a_batch_handled_between_the_checks_means_records_are_still_on_their_way() -> None:
    check = StalledFetchCheck()
    check.check({0: 100}, {0: 150}, handled=1, busy=False)
    assert check.check({0: 100}, {0: 150}, handled=2, busy=False) == {}
    # Idle since the second check: the third one decides.
    assert check.check({0: 100}, {0: 150}, handled=2, busy=False) == {0: 100}


def test_no_refetch_while_the_agent_is_handling_a_batch() -> None:
    check = StalledFetchCheck()
    check.check({0: 100}, {0: 150}, handled=1, busy=True)
    assert check.check({0: 100}, {0: 150}, handled=1, busy=True) == {}


def test_progress_or_new_fetches_between_checks_start_the_wait_again() -> None:
    check = StalledFetchCheck()
    check.check({0: 100}, {0: 150}, handled=1, busy=False)
    # The consumer fetched more: the pair changed, so this is a first sighting again.
    assert check.check({0: 100}, {0: 180}, handled=1, busy=False) == {}
    assert check.check({0: 100}, {0: 180}, handled=1, busy=False) == {0: 100}


def test_caught_up_or_unknown_positions_are_never_stalled() -> None:
    check = StalledFetchCheck()
    for _ in range(3):
        assert check.check({0: 50, 1: 7}, {0: 50, 1: None, 2: 9}, handled=4, busy=False) == {}


def test_a_refetched_partition_needs_two_fresh_sightings_before_the_next_seek() -> None:
    check = StalledFetchCheck()
    check.check({0: 10}, {0: 20}, handled=0, busy=False)
    assert check.check({0: 10}, {0: 20}, handled=0, busy=False) == {0: 10}
    assert check.check({0: 10}, {0: 20}, handled=0, busy=False) == {}
    assert check.check({0: 10}, {0: 20}, handled=0, busy=False) == {0: 10}
