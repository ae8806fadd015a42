"""Creating databases and applying the project's SQL schema (``schemas/sql``)."""

from __future__ import annotations

import time
from importlib import resources

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo


def schema_files() -> list[tuple[str, str]]:
    folder = resources.files("schemas") / "sql"
    names = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".sql"))
    return [(name, (folder / name).read_text()) for name in names]


def apply_schema(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for _name, sql in schema_files():
            conn.execute(sql)


def with_database(dsn: str, dbname: str) -> str:
    params = conninfo_to_dict(dsn)
    params["dbname"] = dbname
    return make_conninfo("", **params)


def create_database(admin_dsn: str, dbname: str, *, with_schema: bool = True) -> str:
    """A new empty database on the server of ``admin_dsn``; returns its DSN."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    dsn = with_database(admin_dsn, dbname)
    if with_schema:
        apply_schema(dsn)
    return dsn


def drop_database(admin_dsn: str, dbname: str, *, timeout_s: float = 10.0) -> None:
    """Drop ``dbname`` and its replication slots.

    A slot stays active until its walsender notices that the client went away, which can be
    after the client closed its connection: such walsenders are terminated, and the slots
    dropped once they are released (``FORCE`` does not drop a database with an active slot).
    """
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        while True:
            conn.execute(
                "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                "WHERE database = %s AND active_pid IS NOT NULL",
                (dbname,),
            )
            conn.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE database = %s AND NOT active",
                (dbname,),
            )
            try:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
                return
            except psycopg.errors.ObjectInUse:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)
