"""Assembling decoded pgoutput messages into keyed changes, transaction by transaction (pure).

pgoutput only sends committed transactions, and ``Begin`` already carries the commit time, so each
row change can be turned into a ``ChangeRecord`` as it arrives. ``Commit`` marks the point up to
which the slot may be confirmed once everything before it is acknowledged by Kafka.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import call
from typing import Any

from workers.changes.keying import KeyedChange, Rejection, key_change
from workers.changes.values import TYPE_NAMES_BY_OID, Converter, converter
from workers.ingest.wal.pgoutput import (
    UNCHANGED,
    Begin,
    Commit,
    DecodeError,
    Ignored,
    LogicalMessage,
    Message,
    Relation,
    RowChange,
    Truncate,
    commit_ms,
)


@dataclass(frozen=True)
class CommitMark:
    """Everything of the transaction ending at ``end_lsn`` has been handed out."""

    end_lsn: int


@dataclass(frozen=True)
class HeartbeatMark:
    """A non-transactional heartbeat message at ``lsn``; nothing precedes it unhanded."""

    lsn: int


Assembled = KeyedChange | Rejection | CommitMark | HeartbeatMark


@dataclass
class _RelationTypes:
    relation: Relation
    # per column, in the order of a tuple's values
    names: tuple[str, ...]
    converters: tuple[Converter, ...]


@dataclass
class TransactionAssembler:
    heartbeat_prefix: str = "realtime_pulse.heartbeat"
    _relations: dict[int, _RelationTypes] = field(default_factory=dict)
    _commit_ms: int | None = None
    _begin_lsn: int | None = None

    def feed(self, message: Message, lsn: int) -> list[Assembled]:
        if isinstance(message, RowChange):
            return [self._row_change(message, lsn)]
        if isinstance(message, Begin):
            self._commit_ms = commit_ms(message.commit_us)
            self._begin_lsn = message.final_lsn
            return []
        if isinstance(message, Commit):
            self._commit_ms = None
            return [CommitMark(message.end_lsn)]
        if isinstance(message, Relation):
            self._relations[message.relid] = _RelationTypes(
                message,
                tuple(column.name for column in message.columns),
                tuple(
                    converter(TYPE_NAMES_BY_OID.get(column.type_oid, "text"))
                    for column in message.columns
                ),
            )
            return []
        if isinstance(message, LogicalMessage):
            if not message.transactional and message.prefix == self.heartbeat_prefix:
                return [HeartbeatMark(message.lsn)]
            return []
        if isinstance(message, Truncate):
            return [
                Rejection(
                    "malformed",
                    "TRUNCATE is not replicated as row changes; KPIs need a rebuild",
                    self._table_name(relid),
                    {"op": "TRUNCATE"},
                )
                for relid in message.relids
            ]
        assert isinstance(message, Ignored)
        return []

    def _table_name(self, relid: int) -> str:
        known = self._relations.get(relid)
        return known.relation.table if known else f"relid:{relid}"

    def _row_change(self, change: RowChange, lsn: int) -> KeyedChange | Rejection:
        known = self._relations.get(change.relid)
        if known is None or self._commit_ms is None:
            return Rejection(
                "undecodable",
                "row change outside a transaction or for a relation never described",
                self._table_name(change.relid),
                {"op": change.op, "lsn": lsn},
            )
        relation = known.relation
        try:
            old = self._row(known, change.old) if change.old is not None else None
            new = self._row(known, change.new, fill_from=old) if change.new is not None else None
        except (DecodeError, ValueError) as exc:
            return Rejection("undecodable", str(exc), relation.table, {"op": change.op, "lsn": lsn})
        return key_change(
            op=change.op,
            schema=relation.schema,
            table=relation.table,
            record=new,
            old_record=old,
            commit_ms=self._commit_ms,
            source="wal",
            lsn=lsn,
        )

    @staticmethod
    def _row(
        known: _RelationTypes, values: tuple[object, ...], fill_from: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        names = known.names
        if len(values) != len(names):
            raise DecodeError(
                f"{known.relation.table}: tuple has {len(values)} values for {len(names)} columns"
            )
        if None not in values and UNCHANGED not in values:
            # the usual row: one map over the converters, no per-value branch in Python
            return dict(zip(names, map(call, known.converters, values), strict=True))
        row: dict[str, Any] = {}
        for name, convert, value in zip(names, known.converters, values, strict=True):
            if value is None:
                row[name] = None
            elif value is not UNCHANGED:
                row[name] = convert(value)
            elif fill_from is not None and name in fill_from:
                # An unchanged TOASTed column is not resent; REPLICA IDENTITY FULL puts it in the
                # old row.
                row[name] = fill_from[name]
        return row
