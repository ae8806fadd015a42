"""Realistic row traffic for N sites, for tests, ``pulse demo`` and the benchmark.

- ``generate(dsn, sites=10, changes=20_000, forged_ratio=0.01, seed=0, rate=None, deletes=True)``
  writes the rows and returns a ``TrafficSummary`` (changes written, forged rows, per table/op counts, time);
  ``generate_in_thread`` runs it from asyncio code, stopped when the caller is cancelled;
- ``redeliver(bootstrap, topic, ratio=0.1, ...)`` re-publishes a random share of
  ``supabase_changes`` to simulate at-least-once re-deliveries.
"""

from workers.traffic.generator import TrafficSummary, generate, generate_in_thread
from workers.traffic.redelivery import read_all_changes, redeliver

__all__ = ["TrafficSummary", "generate", "generate_in_thread", "read_all_changes", "redeliver"]
