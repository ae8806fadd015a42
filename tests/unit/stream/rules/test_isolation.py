"""A message on which the processing raises is quarantined alone; the others are processed."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from workers.stream.rules.isolation import ProcessingFailed, handle_isolating


class Processor:
    def __init__(self, poison: set[int]) -> None:
        self.poison = poison
        self.processed: list[int] = []
        self.quarantined: list[tuple[int, str]] = []
        self.calls = 0

    async def handle(self, items: Sequence[int]) -> None:
        self.calls += 1
        bad = [item for item in items if item in self.poison]
        if bad:
            # Nothing of a failed batch is kept, as in the worker (writes persist after success).
            try:
                raise ZeroDivisionError(f"item {bad[0]}")
            except ZeroDivisionError as exc:
                raise ProcessingFailed from exc
        self.processed.extend(items)

    async def quarantine(self, item: int, error: BaseException) -> None:
        self.quarantined.append((item, f"{type(error).__name__}: {error}"))


@pytest.mark.parametrize("poison", [set(), {0}, {99}, {17}, {3, 4, 60}, set(range(0, 100, 7))])
async def test_every_item_is_processed_once_in_order_or_quarantined(poison: set[int]) -> None:
    processor = Processor(poison)
    await handle_isolating(list(range(100)), processor.handle, processor.quarantine)
    assert processor.processed == [item for item in range(100) if item not in poison]
    assert processor.quarantined == [
        (item, f"ZeroDivisionError: item {item}") for item in sorted(poison)
    ]


async def test_one_bad_item_costs_a_logarithmic_number_of_attempts() -> None:
    processor = Processor({513})
    await handle_isolating(list(range(1024)), processor.handle, processor.quarantine)
    assert processor.calls <= 2 * 10 + 1


async def test_other_exceptions_are_not_taken_for_bad_input() -> None:
    async def outage(items: Sequence[int]) -> None:
        raise ConnectionError("broker unreachable")

    async def never(item: int, error: BaseException) -> None:
        raise AssertionError("quarantined on an outage")

    with pytest.raises(ConnectionError):
        await handle_isolating([1, 2, 3], outage, never)
