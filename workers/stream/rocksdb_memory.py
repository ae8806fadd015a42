"""One memory budget for all of the worker's RocksDB stores, whatever the partition count.

Faust opens a RocksDB per table and partition, each with its own memtables and block cache, so
the worker's memory grew with the partitions it owned. Here every store shares one block cache
and one write buffer manager, which flushes memtables early once their total passes its budget.

Faust builds the options of each store itself (``RocksDBOptions.as_options``); the ``Store``
below is Faust's RocksDB store with those options built around the shared objects, registered
as the ``pulse-rocksdb://`` store. It also keeps Faust's restores out of the stores the worker
writes itself (``faust_adapter.not_written_here``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import rocksdict
from faust.stores import STORES
from faust.stores import rocksdb as faust_rocksdb

from workers.stream.faust_adapter import not_written_here

SHARED_MEMORY_OPTION = "pulse_shared_memory"
STORE_URL = "pulse-rocksdb://"


@dataclass(frozen=True)
class SharedMemory:
    block_cache: rocksdict.Cache
    write_buffers: rocksdict.WriteBufferManager

    @classmethod
    def with_budget(cls, block_cache_mb: int, memtables_mb: int) -> SharedMemory:
        return cls(
            rocksdict.Cache(block_cache_mb * 1024 * 1024),
            rocksdict.WriteBufferManager(memtables_mb * 1024 * 1024, False),
        )


class SharedMemoryOptions(faust_rocksdb.RocksDBOptions):
    def __init__(self, shared: SharedMemory, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shared = shared

    def as_options(self) -> rocksdict.Options:
        options = rocksdict.Options(raw_mode=True)
        options.create_if_missing(True)
        if self.max_open_files is not None:
            options.set_max_open_files(self.max_open_files)
        options.set_write_buffer_size(self.write_buffer_size)
        options.set_max_write_buffer_number(self.max_write_buffer_number)
        options.set_target_file_size_base(self.target_file_size_base)
        options.set_write_buffer_manager(self.shared.write_buffers)
        # Most reads look for a key that is not there (a new event ID, a new row): a full
        # filter (not Faust's per-block one) answers those without touching a data block.
        # Values are short JSON and the keys random IDs, which compress poorly, so blocks are
        # stored uncompressed and a read that does reach one skips decompression.
        options.set_compression_type(rocksdict.DBCompressionType.none())
        table = rocksdict.BlockBasedOptions()
        table.set_bloom_filter(self.bloom_filter_size, block_based=False)
        table.set_block_cache(self.shared.block_cache)
        table.set_index_type(rocksdict.BlockBasedIndexType.binary_search())
        options.set_block_based_table_factory(table)
        return options


class Store(faust_rocksdb.Store):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        base = self.rocksdb_options
        extra = dict(base.extra_options)
        shared = extra.pop(SHARED_MEMORY_OPTION)
        self.rocksdb_options = SharedMemoryOptions(
            shared,
            max_open_files=base.max_open_files,
            write_buffer_size=base.write_buffer_size,
            max_write_buffer_number=base.max_write_buffer_number,
            target_file_size_base=base.target_file_size_base,
            bloom_filter_size=base.bloom_filter_size,
            use_rocksdict=True,
            ttl=base.ttl,
            **extra,
        )

    def apply_changelog_batch(
        self,
        batch: Iterable[Any],
        to_key: Callable[[Any], Any],
        to_value: Callable[[Any], Any],
    ) -> None:
        # Restores and standbys write here too; never into a store the worker writes itself.
        written: set[int] = getattr(self.app, "written_partitions", set())
        super().apply_changelog_batch(not_written_here(batch, written), to_key, to_value)


STORES.aliases["pulse-rocksdb"] = f"{__name__}:Store"
