"""The Faust and aiokafka internals ``faust_adapter`` relies on are still there, as it uses them.

These fail on an upgrade that changes them, before any worker runs on the new version.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version
from types import SimpleNamespace
from typing import Any

import aiokafka
import pytest
from aiokafka.structs import TopicPartition
from faust.stores import rocksdb
from faust.tables import manager as faust_tables
from faust.tables.base import Collection
from faust.tables.recovery import Recovery
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types.tuples import TP

from workers.stream.faust_adapter import (
    RESTORE_SHARE,
    PulseApp,
    TableManager,
    not_written_here,
    pulse_transport,
)
from workers.stream.faust_adapter import Recovery as PulseRecovery
from workers.stream.tables import FAUST_OFFSET_KEY


def test_the_pinned_versions_are_the_installed_ones() -> None:
    assert version("faust-streaming") == "0.15.3"
    assert version("aiokafka") == "0.14.0"


@pytest.mark.parametrize(
    "name",
    [
        "_new_offset",
        "_add_gap",
        "highwaters",
        "getmany",
        "ack",
        "perform_seek",
        "_wait_next_records",
        "_to_message",
        "seek_wait",
        "earliest_offsets",
    ],
)
def test_the_consumer_methods_we_override_or_call_exist(name: str) -> None:
    assert callable(getattr(faust_aiokafka.Consumer, name))


def test_the_consumer_thread_builds_the_worker_consumer_and_commits() -> None:
    assert callable(faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer)
    commit = inspect.signature(faust_aiokafka.AIOKafkaConsumerThread.commit)
    assert list(commit.parameters) == ["self", "offsets"]


async def test_aiokafka_reads_fetch_wait_and_isolation_from_these_attributes() -> None:
    consumer = aiokafka.AIOKafkaConsumer(fetch_max_wait_ms=123, isolation_level="read_committed")
    assert consumer._fetch_max_wait_ms == 123
    assert consumer._isolation_level == "read_committed"


def test_the_producer_takes_extra_settings_from_this_hook() -> None:
    assert callable(faust_aiokafka.Producer._settings_extra)


def test_rocksdb_stores_keep_their_offset_under_this_key_next_to_the_data() -> None:
    assert rocksdb.Store.offset_key == FAUST_OFFSET_KEY
    assert callable(rocksdb.Store._db_for_partition)
    source = inspect.getsource(rocksdb.Store.set_persisted_offset)
    assert "_db_for_partition(tp.partition).put(self.offset_key, str(offset).encode())" in source


def test_the_transport_replaces_faust_consumer_and_producer() -> None:
    transport = pulse_transport(100, "source", "127.0.0.1:9092")
    assert issubclass(transport.Consumer, faust_aiokafka.Consumer)
    assert issubclass(transport.Producer, faust_aiokafka.Producer)


def test_restores_and_standbys_write_through_the_stores_changelog_batch() -> None:
    # ``rocksdb_memory.Store`` filters here what Faust's recovery service applies.
    params = list(inspect.signature(rocksdb.Store.apply_changelog_batch).parameters)
    assert params == ["self", "batch", "to_key", "to_value"]
    recovery = inspect.getsource(Recovery)
    assert "table.apply_changelog_batch(buf)" in recovery
    assert "self.data.apply_changelog_batch(" in inspect.getsource(Collection.apply_changelog_batch)


def test_changelog_events_of_written_partitions_are_skipped() -> None:
    def event(partition: int) -> Any:
        return SimpleNamespace(message=SimpleNamespace(partition=partition))

    events = [event(0), event(1), event(2), event(1)]
    kept = not_written_here(events, {1})
    assert [e.message.partition for e in kept] == [0, 2]
    assert not_written_here(events, set()) == events


def test_the_table_manager_starts_as_faust_does_after_its_wait() -> None:
    # ``faust_adapter.TableManager.on_start`` is Faust's without the one-second sleep.
    faust_start = inspect.getsource(faust_tables.TableManager.on_start)
    assert "await self.sleep(1.0)" in faust_start
    ours = inspect.getsource(TableManager.on_start)
    for step in ("await self._update_channels()", "await self.recovery.start()"):
        assert step in faust_start
        assert step in ours
    assert "sleep" not in ours


def test_faust_reads_changelog_ends_and_restore_starts_in_this_order_within_a_timeout() -> None:
    # ``faust_adapter.Recovery`` restores before the first of the two steps for actives (ends,
    # then starts) and for standbys (starts, then ends), and Faust must bound each step.
    source = inspect.getsource(Recovery._restart_recovery.fun)
    steps = [
        # Buffered changelog records a revocation left over reach the stores before the restore.
        "T(self.flush_buffers)()",
        "T(self._build_highwaters)(\n                        consumer, assigned_active_tps",
        "T(self._build_offsets)(\n                        consumer, assigned_active_tps",
        "T(self._build_offsets)(\n                        consumer, assigned_standby_tps",
        "T(self._seek_offsets)(\n                        consumer, assigned_active_tps",
        "T(self._seek_offsets)(\n                            consumer, standby_tps",
        "T(self._build_highwaters)(\n                            consumer,\n"
        "                            standby_tps,",
    ]
    at = [source.index(step) for step in steps]
    assert at == sorted(at)
    for start in at[1:4] + at[5:]:
        assert "timeout=self.app.conf.broker_request_timeout" in source[start : start + 300]
    assert "self._recovery = Recovery(" in inspect.getsource(
        faust_tables.TableManager.recovery.fget
    )


class RecoveryTable:
    def __init__(self, stored: dict[int, int | None]) -> None:
        self.stored = stored

    def persisted_offset(self, tp: TP) -> int | None:
        return self.stored[tp.partition]


class EarliestZero:
    def __init__(self) -> None:
        self.asked: list[set[TP]] = []

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        self.asked.append(set(tps))
        return dict.fromkeys(tps, 0)


async def test_the_recovery_restores_then_takes_ends_and_starts_from_the_restore() -> None:
    app = PulseApp("adapter-test", TableManager=TableManager)
    recovery = app.tables.recovery
    assert isinstance(recovery, PulseRecovery)
    calls: list[tuple[set[int], float, bool]] = []
    stored: dict[int, int | None] = {0: 41, 1: None, 2: 3}

    async def restore(
        partitions: set[int], budget_s: float, active: bool
    ) -> dict[TopicPartition, int | None]:
        calls.append((partitions, budget_s, active))
        stored[1] = 7
        return {TopicPartition("t-changelog", p): {0: 41, 1: 9, 2: None}[p] for p in partitions}

    app.restore_stores = restore
    actives = {TP("t-changelog", 0), TP("t-changelog", 1)}
    standbys = {TP("t-changelog", 2)}
    for tp in actives | standbys:
        recovery.tp_to_table[tp] = RecoveryTable(stored)  # type: ignore[assignment]
    budget_s = RESTORE_SHARE * app.conf.broker_request_timeout
    consumer = EarliestZero()
    highwaters: Any = {}
    await recovery._build_highwaters(consumer, actives, highwaters, "active")  # type: ignore[arg-type]
    assert calls == [({0, 1}, budget_s, True)]
    assert highwaters == {TP("t-changelog", 0): 41, TP("t-changelog", 1): 9}
    offsets: Any = dict.fromkeys(actives, 3)
    await recovery._build_offsets(consumer, actives, offsets, "active")  # type: ignore[arg-type]
    assert offsets == {TP("t-changelog", 0): 41, TP("t-changelog", 1): 7}
    standby_offsets: Any = dict.fromkeys(standbys, None)
    await recovery._build_offsets(consumer, standbys, standby_offsets, "standby")  # type: ignore[arg-type]
    assert calls[1:] == [({2}, budget_s, False)]
    assert standby_offsets == {TP("t-changelog", 2): 3}
    await recovery._build_highwaters(consumer, standbys, highwaters, "standby")  # type: ignore[arg-type]
    assert highwaters == {TP("t-changelog", 2): -1}
    assert len(calls) == 2
    assert consumer.asked == []


async def test_the_recovery_leaves_a_failed_restore_to_faust() -> None:
    app = PulseApp("adapter-test-failed", TableManager=TableManager)
    recovery = app.tables.recovery

    async def failing(partitions: set[int], budget_s: float, active: bool) -> None:
        return None

    app.restore_stores = failing
    tps = {TP("t-changelog", 0)}
    recovery.tp_to_table[TP("t-changelog", 0)] = RecoveryTable({0: 5})  # type: ignore[assignment]
    consumer = EarliestZero()
    offsets: Any = {TP("t-changelog", 0): 5}
    await recovery._build_offsets(consumer, tps, offsets, "active")  # type: ignore[arg-type]
    assert consumer.asked == [tps]
    assert offsets == {TP("t-changelog", 0): 5}


def test_faust_reads_standbys_past_their_offsets_and_resumes_them_after_seeking() -> None:
    # ``faust_adapter.Recovery.read_standby`` takes over this part of Faust's per-record path.
    slurp = inspect.getsource(Recovery._slurp_changelogs.fun)
    assert "elif tp in standby_tps:" in slurp
    assert "offsets = standby_offsets" in slurp
    assert "if seen_offset is None or offset > seen_offset:" in slurp
    assert "self.tables.on_standbys_ready()" in slurp
    assert "self.standby_tps.clear()" in inspect.getsource(Recovery.on_rebalance)
    assert "self._add(table, tp, self.standby_offsets)" in inspect.getsource(Recovery.add_standby)
    restart = inspect.getsource(Recovery._restart_recovery.fun)
    steps = [
        "T(self._build_offsets)(\n                        consumer, assigned_standby_tps",
        "T(self._seek_offsets)(\n                            consumer, standby_tps",
        "T(consumer.resume_partitions)(standby_tps)",
    ]
    at = [restart.index(step) for step in steps]
    assert at == sorted(at)
    drain = inspect.getsource(faust_aiokafka.Consumer._drain_messages)
    assert "get_read_offset = self._read_offset.__getitem__" in drain
    assert "set_read_offset(tp, offset)" in drain


def test_a_standby_fetch_is_written_at_once_from_faust_standby_offset() -> None:
    app = PulseApp("adapter-test-standby", TableManager=TableManager)
    recovery = app.tables.recovery
    assert isinstance(recovery, PulseRecovery)
    writes: list[tuple[str, int, list[tuple[int, bytes, bytes | None]], int]] = []

    def write(table: str, partition: int, records: Any, last: int) -> None:
        writes.append((table, partition, list(records), last))

    def fetch(*offsets: int) -> list[Any]:
        return [
            SimpleNamespace(offset=o, key=b"k%d" % o, value=None if o == 7 else b"v")
            for o in offsets
        ]

    standby, active = TP("t-changelog", 2), TP("t-changelog", 0)
    recovery.standby_tps.add(standby)
    recovery.tp_to_table[standby] = SimpleNamespace(name="days")  # type: ignore[assignment]
    recovery.standby_offsets[standby] = 5
    assert not recovery.read_standby(standby, fetch(6))
    app.write_standby = write
    assert recovery.read_standby(standby, fetch(4, 5, 6, 7, 8))
    assert writes == [("days", 2, [(6, b"k6", b"v"), (7, b"k7", None), (8, b"k8", b"v")], 8)]
    assert recovery.standby_offsets[standby] == 8
    assert app.tables.standbys_ready
    assert recovery.read_standby(standby, fetch(7, 8))
    assert len(writes) == 1
    assert not recovery.read_standby(active, fetch(1))
    app.written_partitions.add(2)
    assert not recovery.read_standby(standby, fetch(9))
    assert len(writes) == 1


async def test_a_rejoin_request_reaches_the_coordinator_on_the_consumer_thread() -> None:
    # ``Consumer.rejoin_group``: aiokafka's coordinator rejoins once this future is set (its
    # coordination routine waits on it), and Faust's consumer thread runs calls on its loop.
    from aiokafka.consumer.group_coordinator import GroupCoordinator

    assert "self._rejoin_needed_fut" in inspect.getsource(GroupCoordinator.request_rejoin)
    routine = inspect.getsource(GroupCoordinator._GroupCoordinator__coordination_routine)
    assert "self._rejoin_needed_fut" in routine
    assert "_coordinator" in inspect.getsource(aiokafka.AIOKafkaConsumer.__init__)
    thread = faust_aiokafka.AIOKafkaConsumerThread
    assert "fun: Callable[..., Awaitable]" in inspect.getsource(thread.call_thread)
    assert callable(thread._ensure_consumer)
    consumer = pulse_transport(500, "t", "localhost:9092").Consumer
    calls: list[Any] = []

    class Thread:
        async def call_thread(self, fun: Any, *args: Any) -> None:
            await fun(*args)

        def _ensure_consumer(self) -> Any:
            coordinator = SimpleNamespace(request_rejoin=lambda: calls.append(1))
            return SimpleNamespace(_coordinator=coordinator)

    fake = SimpleNamespace(_thread=Thread())
    await consumer.rejoin_group(fake)  # type: ignore[arg-type]
    assert calls == [1]


async def test_the_recovery_records_the_generation_it_completes() -> None:
    # Faust's end of a recovery returns before its seek when a newer generation has begun;
    # ``PulseApp.recovered_generation`` follows the same check.
    completed = inspect.getsource(Recovery.on_recovery_completed)
    at = [
        completed.index("if self.app.consumer_generation_id != generation_id:"),
        completed.index("consumer.perform_seek()"),
        completed.index("consumer.resume_flow()"),
    ]
    assert at == sorted(at)
    app = PulseApp("adapter-test-recovered", TableManager=TableManager)
    recovery = app.tables.recovery
    assert isinstance(recovery, PulseRecovery)
    ended: list[int] = []

    async def faust_end(self: Any, generation_id: int = 0) -> None:
        ended.append(generation_id)

    original = Recovery.on_recovery_completed
    Recovery.on_recovery_completed = faust_end  # type: ignore[method-assign]
    try:
        app.consumer_generation_id = 4
        await recovery.on_recovery_completed(3)
        assert app.recovered_generation is None
        await recovery.on_recovery_completed(4)
        assert app.recovered_generation == 4
    finally:
        Recovery.on_recovery_completed = original  # type: ignore[method-assign]
    assert ended == [3, 4]
