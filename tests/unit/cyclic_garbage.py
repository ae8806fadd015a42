"""Finding the project's objects that only the cyclic garbage collector would free."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def ours(obj: object) -> bool:
    module = getattr(type(obj), "__module__", "") or ""
    if module.startswith("workers."):
        return True
    return callable(obj) and (getattr(obj, "__module__", "") or "").startswith("workers.")


@contextmanager
def cyclic_garbage() -> Iterator[list[object]]:
    """Collects nothing while the block runs; then the list holds our objects left in cycles."""
    found: list[object] = []
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield found
        gc.collect()
        found.extend(obj for obj in gc.garbage if ours(obj))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
