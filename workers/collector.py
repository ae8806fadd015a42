"""Keeping Python's cyclic garbage collector off the hot paths of the long-running processes.

The worker's batches and the ingest's changes are freed by reference counting: neither builds
reference cycles (unit tests check both). The collector still runs on allocation counts, and each
full collection walks every object the process holds, most of them modules, classes and
functions loaded at start. So the start-up objects are frozen out of the collector's view and
young objects are collected far less often than by default (timings: ``bench/RESULTS.md``).

What cyclic garbage aiokafka, Faust and asyncio leave is still collected, at most
``YOUNG_THRESHOLD`` objects late. ``pulse worker``, ``pulse ingest``, and the processes that
measure them (``pulse bench``, ``pulse ingest-rate``, ``pulse realtime-rate``) all run this way.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
MIDDLE_THRESHOLD = 20
OLD_THRESHOLD = 10


def quiet_collector() -> None:
    """Freeze what exists now (call it once start-up is done) and collect young objects rarely."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
