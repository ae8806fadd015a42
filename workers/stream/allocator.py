"""Handing large freed buffers back to the OS, so the worker's RSS follows what it holds.

glibc's malloc serves buffers above a threshold with their own mmap and unmaps them when freed,
but raises that threshold each time such a buffer is freed. In the worker that soon puts every
fetch response, decoded batch and RocksDB memtable block on the heap, where freed space stays
resident. Fixing the threshold (``MMAP_THRESHOLD_BYTES``) keeps those buffers out of the heap.

An operator's own ``MALLOC_MMAP_THRESHOLD_`` wins; off glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 128 * 1024


def fix_mmap_threshold() -> bool:
    """Whether the threshold was set (glibc, and not configured from the environment)."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
