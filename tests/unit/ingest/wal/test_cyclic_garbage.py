"""The WAL ingest's per-change objects leave no reference cycles, so the collector can be quiet."""

from __future__ import annotations

import uuid

from tests.unit.cyclic_garbage import cyclic_garbage
from tests.unit.ingest.wal import pgoutput_bytes as pg
from workers.changes.keying import KeyedChange
from workers.ingest.wal.pgoutput import UNCHANGED, DecodeError, decode
from workers.ingest.wal.transactions import TransactionAssembler
from workers.kafka.codec import encode_batch

CALLS = [("id", 2950, True), ("site_id", 2950, False), ("status", 25, False)]
AT = 815_477_575_123_456


def transaction(relid: int, site: str) -> list[bytes]:
    rows = [[str(uuid.uuid4()), site, "ringing"] for _ in range(20)]
    return [
        pg.begin(1, AT, 1),
        *(pg.insert(relid, row) for row in rows),
        *(pg.update(relid, row, [row[0], site, UNCHANGED]) for row in rows),
        *(pg.delete(relid, row) for row in rows),
        pg.insert(relid, ["too", "few"]),
        pg.commit(1, 2, AT),
    ]


def test_decoded_and_assembled_changes_leave_no_cyclic_garbage() -> None:
    site = str(uuid.uuid4())
    assembler = TransactionAssembler()
    assembler.feed(decode(pg.relation(1, "calls", CALLS)), 0)
    messages = [raw for _ in range(10) for raw in transaction(1, site)] + [b"I\x00"]
    with cyclic_garbage() as cyclic:
        changes: list[dict[str, object]] = []
        for lsn, raw in enumerate(messages):
            try:
                message = decode(raw)
            except DecodeError:
                continue
            for item in assembler.feed(message, lsn):
                if isinstance(item, KeyedChange):
                    changes.append(item.body)
        encoded = encode_batch(site, changes)
        del changes, message, item
    assert len(encoded) > 10_000, "nothing was assembled"
    assert cyclic == []
