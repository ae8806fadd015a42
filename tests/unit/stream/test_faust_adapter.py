"""The Faust and aiokafka internals ``faust_adapter`` relies on are still there, as it uses them.

These fail on an upgrade that changes them, before any worker runs on the new version.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version

import aiokafka
import pytest
from faust.stores import rocksdb
from faust.tables.recovery import Recovery
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types.tuples import TP

from workers.stream.faust_adapter import pulse_transport, replays_own_commit
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


def test_recovery_keeps_the_active_changelogs_and_says_when_it_restores() -> None:
    # ``replays_own_commit`` reads these: the set Faust restores active partitions from, and the
    # flag set around a restore (on the app too).
    assert "active_tps" in Recovery.__init__.__code__.co_names
    assert Recovery.in_recovery is False
    started = inspect.getsource(Recovery._set_recovery_started)
    assert "self.app.in_recovery = True" in started
    assert "self.app.in_recovery = False" in inspect.getsource(Recovery._set_recovery_ended)


def test_own_changelog_records_are_dropped_only_outside_a_restore() -> None:
    mine, standby = TP("app-days-changelog", 0), TP("app-days-changelog", 1)
    assert replays_own_commit(mine, {mine}, in_recovery=False)
    assert not replays_own_commit(mine, {mine}, in_recovery=True)
    assert not replays_own_commit(standby, {mine}, in_recovery=False)
