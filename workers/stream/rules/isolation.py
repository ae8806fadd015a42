"""Isolating the message that makes a batch's processing raise, so that the rest go through.

The processing quarantines what it knows to be bad input (``processing``), and the session lookup
waits out Postgres outages. An exception that still escapes the processing is a defect that some
input reaches. Retrying the same batch would raise again, and an agent that raises has its batch
acknowledged by Faust (``take_events`` acks in a ``finally``). So the batch is halved until
the failing message stands alone; that message is quarantined with reason
``processing_error`` and every other message is processed as usual.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

Item = TypeVar("Item")


class ProcessingFailed(Exception):
    """The processing raised on these messages (the original exception is ``__cause__``)."""


async def handle_isolating(
    items: Sequence[Item],
    handle: Callable[[Sequence[Item]], Awaitable[None]],
    quarantine: Callable[[Item, BaseException], Awaitable[None]],
) -> None:
    """``handle`` the items in order; each one on which it raises ``ProcessingFailed`` goes to
    ``quarantine`` instead, and the others are handled in halves around it."""
    try:
        await handle(items)
    except ProcessingFailed as failure:
        if len(items) == 1:
            await quarantine(items[0], failure.__cause__ or failure)
            return
        middle = len(items) // 2
        await handle_isolating(items[:middle], handle, quarantine)
        await handle_isolating(items[middle:], handle, quarantine)
