"""The stores' offsets and a changelog replay on real RocksDB stores (``tables.StateTables``)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import rocksdict

from workers.stream.tables import FAUST_OFFSET_KEY, StateTables


def tables_at(root: Path) -> tuple[StateTables, dict[int, Any]]:
    dbs: dict[int, Any] = {}

    def db_for_partition(partition: int) -> Any:
        if partition not in dbs:
            dbs[partition] = rocksdict.Rdict(
                str(root / f"rows-{partition}.db"), options=rocksdict.Options(raw_mode=True)
            )
        return dbs[partition]

    table = SimpleNamespace(
        data=SimpleNamespace(_db_for_partition=db_for_partition),
        changelog_topic=SimpleNamespace(get_topic_name=lambda: "app-rows-changelog"),
    )
    return StateTables(SimpleNamespace(), {"rows": table}), dbs  # type: ignore[arg-type]


def test_replay_applies_records_in_order_and_keeps_the_last_offset(tmp_path: Path) -> None:
    state, dbs = tables_at(tmp_path)
    assert state.persisted("rows", 0) is None
    applied: list[tuple[str, int, int]] = []
    state.on_applied = lambda table, partition, offset: applied.append((table, partition, offset))
    state.apply({("rows", 0): {b"a": b"1", b"b": b"1"}}, {("app-rows-changelog", 0): 4})
    assert applied == [("rows", 0, 4)]
    assert state.persisted("rows", 0) == 4
    state.replay("rows", 0, [(6, b"a", b"2"), (7, b"b", None), (9, b"a", b"3")], 9)
    assert state.persisted("rows", 0) == 9
    assert dict(state.items("rows", 0)) == {b"a": b"3"}
    assert dbs[0].get(FAUST_OFFSET_KEY) == b"9"
    assert applied == [("rows", 0, 4)]  # a replay is no commit of this worker's


def test_clear_empties_the_store_and_its_offset(tmp_path: Path) -> None:
    state, _dbs = tables_at(tmp_path)
    state.replay("rows", 0, [(3, b"a", b"1"), (4, b"b", b"2")], 4)
    state.clear("rows", 0)
    assert dict(state.items("rows", 0)) == {}
    assert state.persisted("rows", 0) is None
