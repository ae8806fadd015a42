"""Decoding of the ``pgoutput`` logical replication protocol (version 1), as pure functions.

Message layouts follow PostgreSQL's "Logical Replication Message Formats". Values arrive as text
and are returned as text; typing them is ``workers.changes.values``' job.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
PG_EPOCH_MS = int(PG_EPOCH.timestamp() * 1000)

_I8 = struct.Struct(">b")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")
_I64 = struct.Struct(">q")
_U64 = struct.Struct(">Q")


class DecodeError(ValueError):
    """A message that does not follow the pgoutput format."""


@dataclass(frozen=True)
class Column:
    name: str
    type_oid: int
    is_key: bool


@dataclass(frozen=True)
class Relation:
    relid: int
    schema: str
    table: str
    replica_identity: str
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class Begin:
    final_lsn: int
    commit_us: int
    xid: int


@dataclass(frozen=True)
class Commit:
    commit_lsn: int
    end_lsn: int
    commit_us: int


# A tuple's values: text, None for SQL NULL, or UNCHANGED for an unchanged TOASTed value.
UNCHANGED = object()
TupleValues = tuple[object, ...]


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which showed in the
# ingest's per-change profile.
@dataclass(slots=True)
class RowChange:
    op: str
    relid: int
    new: TupleValues | None = None
    old: TupleValues | None = None
    old_is_key_only: bool = False


@dataclass(frozen=True)
class LogicalMessage:
    transactional: bool
    lsn: int
    prefix: str
    content: bytes


@dataclass(frozen=True)
class Truncate:
    relids: tuple[int, ...]


@dataclass(frozen=True)
class Ignored:
    kind: str


Message = Begin | Commit | Relation | RowChange | LogicalMessage | Truncate | Ignored


@dataclass
class _Reader:
    data: bytes
    pos: int = field(default=0)

    def take(self, size: int) -> bytes:
        end = self.pos + size
        if end > len(self.data):
            raise DecodeError(f"message truncated at byte {self.pos} (wanted {size} more)")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def byte(self) -> str:
        return self.take(1).decode("ascii")

    def i8(self) -> int:
        value: int = _I8.unpack(self.take(1))[0]
        return value

    def i16(self) -> int:
        value: int = _I16.unpack(self.take(2))[0]
        return value

    def i32(self) -> int:
        value: int = _I32.unpack(self.take(4))[0]
        return value

    def u32(self) -> int:
        value: int = _U32.unpack(self.take(4))[0]
        return value

    def i64(self) -> int:
        value: int = _I64.unpack(self.take(8))[0]
        return value

    def u64(self) -> int:
        value: int = _U64.unpack(self.take(8))[0]
        return value

    def cstring(self) -> str:
        end = self.data.find(b"\x00", self.pos)
        if end < 0:
            raise DecodeError("unterminated string")
        text = self.data[self.pos : end].decode("utf-8")
        self.pos = end + 1
        return text

    def tuple_data(self) -> TupleValues:
        values, self.pos = _tuple_values(self.data, self.pos)
        return values


def _tuple_values(data: bytes, pos: int) -> tuple[TupleValues, int]:
    """The tuple starting at ``pos``, and the position after it.

    The per-change hot spot of the ingest: locals and ``unpack_from`` instead of reader methods.
    """
    size = len(data)
    if pos + 2 > size:
        raise DecodeError(f"message truncated at byte {pos} (wanted 2 more)")
    (count,) = _I16.unpack_from(data, pos)
    pos += 2
    values: list[object] = []
    append = values.append
    for _ in range(count):
        if pos >= size:
            raise DecodeError(f"message truncated at byte {pos} (wanted a value kind)")
        kind = data[pos]
        pos += 1
        if kind == 0x6E:  # 'n'
            append(None)
        elif kind == 0x75:  # 'u'
            append(UNCHANGED)
        elif kind in (0x74, 0x62):  # 't', 'b'
            if pos + 4 > size:
                raise DecodeError(f"message truncated at byte {pos} (wanted 4 more)")
            (length,) = _I32.unpack_from(data, pos)
            pos += 4
            end = pos + length
            if end > size:
                raise DecodeError(f"message truncated at byte {pos} (wanted {length} more)")
            append(data[pos:end].decode("utf-8"))
            pos = end
        else:
            raise DecodeError(f"unknown tuple value kind {chr(kind)!r}")
    return tuple(values), pos


def _insert(data: bytes) -> RowChange:
    # Most messages are inserts, so they skip the reader.
    if len(data) < 6:
        raise DecodeError(f"message truncated at byte 1 (wanted {6 - len(data)} more)")
    (relid,) = _U32.unpack_from(data, 1)
    if data[5] != 0x4E:  # 'N'
        raise DecodeError("INSERT without a new tuple")
    return RowChange("INSERT", relid, new=_tuple_values(data, 6)[0])


def commit_time(commit_us: int) -> datetime:
    return PG_EPOCH + timedelta(microseconds=commit_us)


def commit_ms(commit_us: int) -> int:
    """Commit time in UTC milliseconds since the Unix epoch, truncated."""
    return PG_EPOCH_MS + commit_us // 1000


def decode(data: bytes) -> Message:
    if not data:
        raise DecodeError("empty message")
    if data[0] == 0x49:  # 'I'
        return _insert(data)
    kind = chr(data[0])
    reader = _Reader(data, 1)
    if kind == "B":
        return Begin(final_lsn=reader.u64(), commit_us=reader.i64(), xid=reader.u32())
    if kind == "C":
        reader.i8()
        return Commit(commit_lsn=reader.u64(), end_lsn=reader.u64(), commit_us=reader.i64())
    if kind == "R":
        relid = reader.u32()
        schema = reader.cstring()
        table = reader.cstring()
        identity = chr(reader.i8())
        columns = []
        for _ in range(reader.i16()):
            flags = reader.i8()
            name = reader.cstring()
            type_oid = reader.u32()
            reader.i32()
            columns.append(Column(name=name, type_oid=type_oid, is_key=bool(flags & 1)))
        return Relation(relid, schema, table, identity, tuple(columns))
    if kind == "U":
        relid = reader.u32()
        marker = reader.byte()
        old: TupleValues | None = None
        key_only = False
        if marker in ("K", "O"):
            key_only = marker == "K"
            old = reader.tuple_data()
            marker = reader.byte()
        if marker != "N":
            raise DecodeError("UPDATE without a new tuple")
        return RowChange(
            "UPDATE", relid, new=reader.tuple_data(), old=old, old_is_key_only=key_only
        )
    if kind == "D":
        relid = reader.u32()
        marker = reader.byte()
        if marker not in ("K", "O"):
            raise DecodeError("DELETE without an old tuple")
        return RowChange("DELETE", relid, old=reader.tuple_data(), old_is_key_only=marker == "K")
    if kind == "M":
        flags = reader.i8()
        lsn = reader.u64()
        prefix = reader.cstring()
        content = reader.take(reader.i32())
        return LogicalMessage(bool(flags & 1), lsn, prefix, content)
    if kind == "T":
        count = reader.i32()
        reader.i8()
        return Truncate(tuple(reader.u32() for _ in range(count)))
    if kind in ("O", "Y"):
        return Ignored(kind)
    raise DecodeError(f"unknown message kind {kind!r}")
