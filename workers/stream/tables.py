"""The worker's Faust tables (rocksdict), read and written per partition, in batches.

Four tables, all co-partitioned with ``supabase_changes`` (a site's keys live in its partition):
``dedup`` (event ID -> commit ms), ``sessions`` (session ID -> site ID), ``entities`` (row key ->
version and KPI contribution) and ``days`` (``site|day`` -> aggregate). Keys and values are raw
bytes (orjson inside): no Faust codec on the hot path.

Why not ``table[key] = value``: Faust sends one changelog message per assignment and writes the
local store at once, picking the partition from the "current event", which a batch of many
envelopes does not have. Here a batch's writes are buffered (``processing.BatchState``) and then
``persist`` sends them to the changelog with explicit partitions, waits for every ack, and only
then writes the local RocksDB. So the local store never holds a write the changelog lacks, and
a worker that restores from the changelog sees exactly what the crashed one had persisted.

Restoring: a changelog is read up to its end offset, which the consumer corrects for the bundled
broker's under-reporting (``fetching``), so a restore sees every write persisted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import faust
import rocksdict
from faust.types import TP

from workers.stream.processing import TABLES
from workers.stream.producing import send_grouped
from workers.stream.rocksdb_memory import SHARED_MEMORY_OPTION, SharedMemory

FAUST_OFFSET_KEY = b"__faust\x00offset__"


def define_tables(
    app: faust.App, partitions: int, write_buffer_mb: int, shared: SharedMemory
) -> dict[str, Any]:
    """The tables: RocksDB stores (tables x partitions) that share one memory budget."""
    return {
        name: app.Table(
            name,
            partitions=partitions,
            key_type=bytes,
            value_type=bytes,
            options={
                "driver": "rocksdict",
                "write_buffer_size": write_buffer_mb * 1024 * 1024,
                "max_write_buffer_number": 2,
                # Faust's default of 3 lets about one read in seven for an absent key through.
                "bloom_filter_size": 10,
                SHARED_MEMORY_OPTION: shared,
            },
        )
        for name in TABLES
    }


class StateTables:
    """``StateReader`` over the Faust tables plus the batched, changelog-first ``persist``."""

    def __init__(self, app: faust.App, tables: dict[str, Any]) -> None:
        self._app = app
        self._tables = tables

    def _db(self, table: str, partition: int) -> Any:
        # The store's per-partition RocksDB (opened on first use): Faust's own access path is
        # tied to the current event, which a batch does not have.
        return self._tables[table].data._db_for_partition(partition)

    def getter(self, table: str, partition: int) -> Callable[[bytes], bytes | None]:
        lookup: Callable[[bytes], bytes | None] = self._db(table, partition).get
        return lookup

    def get(self, table: str, partition: int, key: bytes) -> bytes | None:
        return self.getter(table, partition)(key)

    def items(self, table: str, partition: int) -> Iterator[tuple[bytes, bytes]]:
        for key, value in self._db(table, partition).items():
            if key != FAUST_OFFSET_KEY:
                yield key, value

    def changelog_topic(self, table: str) -> str:
        name: str = self._tables[table].changelog_topic.get_topic_name()
        return name

    async def persist(self, writes: dict[tuple[str, int], dict[bytes, bytes | None]]) -> None:
        """Send the writes to the changelogs, wait for the acks, then write the local stores."""
        if not writes:
            return
        topics = {table: self.changelog_topic(table) for table, _partition in writes}
        newest = await send_grouped(
            kafka_producer(self._app),
            {
                (topics[table], partition): entries.items()
                for (table, partition), entries in writes.items()
            },
        )
        for (table, partition), entries in writes.items():
            batch = rocksdict.WriteBatch(raw_mode=True)
            for key, value in entries.items():
                if value is None:
                    batch.delete(key)
                else:
                    batch.put(key, value)
            self._db(table, partition).write(batch)
            topic = topics[table]
            self._tables[table].data.set_persisted_offset(
                TP(topic, partition), newest[(topic, partition)]
            )


def kafka_producer(app: faust.App) -> Any:
    """The aiokafka producer inside Faust's, for record-batch sends (``producing``)."""
    transport: Any = app.producer
    return transport._ensure_producer()
