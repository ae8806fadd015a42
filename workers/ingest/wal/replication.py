"""The replication-protocol edge: publication, slot, exported snapshot and the pgoutput stream.

psycopg2 is used here only because psycopg 3 does not speak the replication protocol. Its calls
are blocking, but ``read_message`` never waits, so the stream is driven from the event loop by
watching the socket.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
import psycopg2
import psycopg2.extensions
import psycopg2.extras
from psycopg import sql

from schemas.changes import TRACKED_TABLES

STATE_DDL = """
CREATE SCHEMA IF NOT EXISTS realtime_pulse;
CREATE TABLE IF NOT EXISTS realtime_pulse.ingest_state (
    slot_name text PRIMARY KEY,
    snapshot_done_at timestamptz NOT NULL DEFAULT now(),
    snapshot_rows bigint NOT NULL
);
"""


class ReplicationSetupError(RuntimeError):
    pass


class SlotGone(ReplicationSetupError):
    """The slot the ingest streamed from no longer exists: changes since its last confirmed
    position are lost, and only an operator can decide to start over from a new snapshot."""

    def __init__(self, slot: str) -> None:
        super().__init__(
            f"replication slot {slot!r} is gone (dropped, or this server is a new primary "
            "without it): the changes since its last confirmed position cannot be read. To start "
            "over from a new snapshot of every row, run "
            f"DELETE FROM realtime_pulse.ingest_state WHERE slot_name = '{slot}'; "
            "and start the ingest again (rows deleted meanwhile stay counted downstream)"
        )


@dataclass(frozen=True)
class SlotState:
    exists: bool
    active: bool
    snapshot_done: bool


def ensure_publication(conn: psycopg.Connection[tuple[object, ...]], name: str) -> None:
    exists = conn.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (name,)).fetchone()
    tables = sql.SQL(", ").join(sql.Identifier("public", table) for table in TRACKED_TABLES)
    if not exists:
        conn.execute(
            sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(sql.Identifier(name), tables)
        )
        return
    published = {
        row[0]
        for row in conn.execute(
            "SELECT tablename FROM pg_publication_tables WHERE pubname = %s AND schemaname = 'public'",
            (name,),
        )
    }
    for table in TRACKED_TABLES:
        if table not in published:
            conn.execute(
                sql.SQL("ALTER PUBLICATION {} ADD TABLE {}").format(
                    sql.Identifier(name), sql.Identifier("public", table)
                )
            )


def slot_state(conn: psycopg.Connection[tuple[object, ...]], slot: str) -> SlotState:
    conn.execute(STATE_DDL)
    row = conn.execute(
        "SELECT active FROM pg_replication_slots WHERE slot_name = %s AND database = current_database()",
        (slot,),
    ).fetchone()
    done = conn.execute(
        "SELECT 1 FROM realtime_pulse.ingest_state WHERE slot_name = %s", (slot,)
    ).fetchone()
    return SlotState(
        exists=row is not None, active=bool(row and row[0]), snapshot_done=done is not None
    )


def drop_slot(conn: psycopg.Connection[tuple[object, ...]], slot: str) -> None:
    conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))


def mark_snapshot_done(conn: psycopg.Connection[tuple[object, ...]], slot: str, rows: int) -> None:
    conn.execute(
        "INSERT INTO realtime_pulse.ingest_state (slot_name, snapshot_rows) VALUES (%s, %s) "
        "ON CONFLICT (slot_name) DO UPDATE "
        "SET snapshot_done_at = now(), snapshot_rows = EXCLUDED.snapshot_rows",
        (slot, rows),
    )


def emit_heartbeat(conn: psycopg.Connection[tuple[object, ...]], prefix: str) -> None:
    conn.execute("SELECT pg_logical_emit_message(false, %s, '')", (prefix,))


def slot_lag_bytes(conn: psycopg.Connection[tuple[object, ...]], slot: str) -> int | None:
    row = conn.execute(
        "SELECT pg_current_wal_lsn() - confirmed_flush_lsn FROM pg_replication_slots "
        "WHERE slot_name = %s",
        (slot,),
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])  # type: ignore[call-overload]


class ReplicationStream:
    """One replication connection: creates the slot (exporting a snapshot) and streams from it."""

    def __init__(self, dsn: str) -> None:
        try:
            self._conn = psycopg2.connect(
                dsn, connection_factory=psycopg2.extras.LogicalReplicationConnection
            )
        except psycopg2.OperationalError as exc:
            raise ReplicationSetupError(
                f"cannot open a replication connection: {exc}".strip()
            ) from exc
        self._cursor: psycopg2.extras.ReplicationCursor = self._conn.cursor()

    def create_slot_with_snapshot(self, slot: str) -> tuple[int, str]:
        """Create the slot; returns its consistent point and the exported snapshot's name.

        The snapshot stays importable until the next command on this connection.
        """
        self._cursor.execute(f'CREATE_REPLICATION_SLOT "{slot}" LOGICAL pgoutput EXPORT_SNAPSHOT')
        row = self._cursor.fetchone()
        assert row is not None
        _name, consistent_point, snapshot_name, _plugin = row
        high, low = str(consistent_point).split("/")
        return (int(high, 16) << 32) + int(low, 16), str(snapshot_name)

    def start(self, slot: str, publication: str) -> None:
        self._cursor.start_replication(
            slot_name=slot,
            decode=False,
            options={"proto_version": "1", "publication_names": publication, "messages": "true"},
            status_interval=10,
        )

    def fileno(self) -> int:
        fd: int = self._conn.fileno()
        return fd

    def read(self) -> psycopg2.extras.ReplicationMessage | None:
        return self._cursor.read_message()

    def confirm(self, lsn: int) -> None:
        self._cursor.send_feedback(  # type: ignore[no-untyped-call]
            write_lsn=lsn, flush_lsn=lsn, apply_lsn=lsn, force=True
        )

    def keepalive(self) -> None:
        self._cursor.send_feedback()  # type: ignore[no-untyped-call]

    def close(self) -> None:
        self._conn.close()
