"""Building pgoutput protocol messages byte by byte, as the server sends them."""

from __future__ import annotations

import struct


def cstr(text: str) -> bytes:
    return text.encode() + b"\x00"


def begin(final_lsn: int, commit_us: int, xid: int) -> bytes:
    return b"B" + struct.pack(">QqI", final_lsn, commit_us, xid)


def commit(commit_lsn: int, end_lsn: int, commit_us: int) -> bytes:
    return b"C" + struct.pack(">bQQq", 0, commit_lsn, end_lsn, commit_us)


def relation(relid: int, table: str, columns: list[tuple[str, int, bool]]) -> bytes:
    body = (
        struct.pack(">I", relid)
        + cstr("public")
        + cstr(table)
        + struct.pack(">bh", ord("f"), len(columns))
    )
    for name, oid, key in columns:
        body += struct.pack(">b", 1 if key else 0) + cstr(name) + struct.pack(">Ii", oid, -1)
    return b"R" + body


def tuple_data(values: list[str | object | None]) -> bytes:
    out = struct.pack(">h", len(values))
    for value in values:
        if value is None:
            out += b"n"
        elif isinstance(value, str):
            raw = value.encode()
            out += b"t" + struct.pack(">i", len(raw)) + raw
        else:
            out += b"u"
    return out


def insert(relid: int, values: list[str | object | None]) -> bytes:
    return b"I" + struct.pack(">I", relid) + b"N" + tuple_data(values)


def update(
    relid: int, old: list[str | object | None] | None, new: list[str | object | None]
) -> bytes:
    body = b"U" + struct.pack(">I", relid)
    if old is not None:
        body += b"O" + tuple_data(old)
    return body + b"N" + tuple_data(new)


def delete(relid: int, old: list[str | object | None]) -> bytes:
    return b"D" + struct.pack(">I", relid) + b"O" + tuple_data(old)


def message(lsn: int, prefix: str, content: bytes, transactional: bool = False) -> bytes:
    return (
        b"M"
        + struct.pack(">bQ", 1 if transactional else 0, lsn)
        + cstr(prefix)
        + struct.pack(">i", len(content))
        + content
    )
