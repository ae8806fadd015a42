"""The worker's Faust tables (rocksdict), read and written per partition, in batches.

Four tables, all co-partitioned with ``supabase_changes`` (a site's keys live in its partition):
``dedup`` (event ID -> commit ms), ``sessions`` (session ID -> site ID), ``entities`` (row key ->
version and KPI contribution) and ``days`` (``site|day`` -> aggregate). Keys and values are raw
bytes (orjson inside): no Faust codec on the hot path.

Why not ``table[key] = value``: Faust sends one changelog message per assignment and writes the
local store at once, picking the partition from the "current event", which a batch of many
envelopes does not have. Here a batch's writes are buffered (``processing.BatchState``);
``changelog_records`` turns them into changelog records with explicit partitions, which
``checkpoint.Checkpoint`` commits in the batch's transaction, and only then does ``apply`` write
them to the local RocksDB, with the changelog offset in the same write batch. So the local store
never holds a write the committed changelog lacks, and a worker that restores from the changelog
(reading committed records only) sees exactly what the last one had committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import faust
import rocksdict

from workers.kafka.changelog_reading import ChangelogRecord
from workers.stream.faust_adapter import store_db
from workers.stream.processing import TABLES
from workers.stream.producing import KeyValue
from workers.stream.rocksdb_memory import SHARED_MEMORY_OPTION, SharedMemory

FAUST_OFFSET_KEY = b"__faust\x00offset__"

# (table, partition) -> key -> new value, None deleting the key
Writes = Mapping[tuple[str, int], Mapping[bytes, bytes | None]]


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
        # Told of each store write and its changelog offset (``store_guard.StoreGuard.applied``).
        self.on_applied: Callable[[str, int, int], None] | None = None

    def _db(self, table: str, partition: int) -> Any:
        return store_db(self._tables[table], partition)

    def getter(self, table: str, partition: int) -> Callable[[bytes], bytes | None]:
        lookup: Callable[[bytes], bytes | None] = self._db(table, partition).get
        return lookup

    def get(self, table: str, partition: int, key: bytes) -> bytes | None:
        return self.getter(table, partition)(key)

    def items(self, table: str, partition: int) -> Iterator[tuple[bytes, bytes]]:
        for key, value in self._db(table, partition).items():
            if key != FAUST_OFFSET_KEY:
                yield key, value

    def persisted(self, table: str, partition: int) -> int | None:
        """The changelog offset the store holds data up to (None: none kept)."""
        raw = self.get(table, partition, FAUST_OFFSET_KEY)
        return None if raw is None else int(raw)

    def replay(
        self, table: str, partition: int, records: Sequence[ChangelogRecord], last: int
    ) -> None:
        """Apply changelog records in order, as a restore does, and hold ``last`` as the offset."""
        batch = rocksdict.WriteBatch(raw_mode=True)
        for _offset, key, value in records:
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        batch.put(FAUST_OFFSET_KEY, str(last).encode())
        self._db(table, partition).write(batch)

    def clear(self, table: str, partition: int) -> None:
        """Delete every key of the store, its offset too (a store to rebuild from its changelog)."""
        db = self._db(table, partition)
        batch = rocksdict.WriteBatch(raw_mode=True)
        for key, _value in db.items():
            batch.delete(key)
        db.write(batch)

    def changelog_topic(self, table: str) -> str:
        name: str = self._tables[table].changelog_topic.get_topic_name()
        return name

    def changelog_records(self, writes: Writes) -> dict[tuple[str, int], Iterable[KeyValue]]:
        """The writes as changelog records, by (changelog topic, partition)."""
        return {
            (self.changelog_topic(table), partition): entries.items()
            for (table, partition), entries in writes.items()
        }

    def apply(self, writes: Writes, changelog_offsets: Mapping[tuple[str, int], int]) -> None:
        """Write committed writes to the local stores, each with its changelog offset.

        The offset goes into the same RocksDB write batch as the data, under the key where
        Faust keeps a store's persisted offset, so after a crash a store never claims an offset
        its data do not reach; its restore reads the changelog from there.
        """
        for (table, partition), entries in writes.items():
            batch = rocksdict.WriteBatch(raw_mode=True)
            for key, value in entries.items():
                if value is None:
                    batch.delete(key)
                else:
                    batch.put(key, value)
            offset = changelog_offsets.get((self.changelog_topic(table), partition))
            if offset is not None:
                batch.put(FAUST_OFFSET_KEY, str(offset).encode())
            self._db(table, partition).write(batch)
            if offset is not None and self.on_applied is not None:
                self.on_applied(table, partition, offset)
