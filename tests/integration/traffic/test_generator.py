import asyncio
import contextlib
import threading
import time
import uuid

import psycopg
import pytest

from workers.traffic import generate, generate_in_thread
from workers.traffic.generator import write_transaction
from workers.traffic.plan import Statement

TABLES = ("sessions", "events", "calls", "intents")


def rows_written(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return sum(
            int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
            for table in TABLES
        )


def test_a_stopped_generation_ends_after_its_transaction_and_counts_only_what_it_committed(
    fresh_db: str,
) -> None:
    stop = threading.Event()
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    started = time.monotonic()
    summary = generate(fresh_db, sites=3, changes=5_000, rate=1_000, transaction_size=10, stop=stop)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert 0 < summary.changes < 5_000
    assert summary.changes % 10 == 0
    assert sum(summary.by_table_op.values()) == summary.changes
    ops = summary.by_table_op
    live = sum(ops.get(f"{t}.INSERT", 0) - ops.get(f"{t}.DELETE", 0) for t in TABLES)
    assert rows_written(fresh_db) == live


def test_cancelling_the_caller_stops_the_thread(fresh_db: str) -> None:
    async def cancel_soon() -> float:
        task = asyncio.create_task(
            generate_in_thread(fresh_db, sites=3, changes=5_000, rate=1_000, transaction_size=10)
        )
        await asyncio.sleep(0.5)
        task.cancel()
        started = time.monotonic()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return started

    started = asyncio.run(cancel_soon())
    # asyncio.run returns only once the executor's threads have finished.
    assert time.monotonic() - started < 2.0
    written = rows_written(fresh_db)
    assert 0 < written < 5_000


def test_a_statement_that_changes_no_row_fails_its_transaction_uncommitted(fresh_db: str) -> None:
    site = str(uuid.uuid4())
    statements = [
        Statement("sites", "INSERT", "INSERT INTO sites (id, name) VALUES (%s, %s)", (site, "s")),
        Statement("calls", "UPDATE", "UPDATE calls SET status = 'ended' WHERE id = %s", (site,)),
    ]
    with psycopg.connect(fresh_db) as conn:
        # The count of each pipelined statement: the insert's 1 passes, the update's 0 does not.
        with pytest.raises(RuntimeError, match="changed 0 rows, not 1"):
            write_transaction(conn, statements)
        assert conn.execute("SELECT count(*) FROM sites").fetchone() == (0,)
