"""One line per start-up or shut-down step: what is happening, then how it ended and how long it took."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

from rich.console import Console


@dataclass
class Step:
    """Lets the step's body replace the ``ok`` with a more useful result (a port, a count)."""

    result: str = "ok"


@contextlib.contextmanager
def step(console: Console, what: str) -> Iterator[Step]:
    console.print(f"[dim]…[/dim] {what}", highlight=False)
    started = time.monotonic()
    outcome = Step()
    try:
        yield outcome
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt | asyncio.CancelledError)
        reason = "interrupted" if interrupted else "failed"
        console.print(f"[red]✗[/red] {what}: {reason}", highlight=False)
        raise
    took = time.monotonic() - started
    console.print(
        f"[green]✓[/green] {what}: {outcome.result} [dim]({took:.1f}s)[/dim]", highlight=False
    )
