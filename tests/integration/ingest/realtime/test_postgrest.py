"""The emulator's PostgREST subset, driven by the unmodified ``supabase``/``postgrest`` clients."""

from __future__ import annotations

import psycopg
import pytest
from postgrest.exceptions import APIError
from psycopg.rows import dict_row
from supabase import acreate_client

from tests.integration.ingest.realtime.conftest import JWT_SECRET, RunningEmulator
from workers.changes.values import canonical_row
from workers.emulator.tokens import mint_token
from workers.ingest.realtime.changes import CATCHUP_COLUMN_TYPES

pytestmark = pytest.mark.integration


async def _seed(dsn: str) -> str:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        row = await (
            await conn.execute("INSERT INTO sites (name) VALUES ('s') RETURNING id::text")
        ).fetchone()
        assert row is not None
        await conn.execute(
            "INSERT INTO calls (site_id, status, created_at, updated_at) "
            "SELECT %s, 's' || n, now(), timestamptz '2025-11-03 09:32:55.123456+00' + n * interval '1 s' "
            "FROM generate_series(1, 5) AS n",
            (row[0],),
        )
        return str(row[0])


async def test_select_filters_order_limit_as_the_client_sends_them(
    emulator: RunningEmulator,
) -> None:
    await _seed(emulator.dsn)
    client = await acreate_client(emulator.url, emulator.service_key)
    calls = client.postgrest.from_("calls")
    newest_two = (
        await calls.select("*")
        .gte("updated_at", "2025-11-03T09:32:58.123456+00:00")
        .order("updated_at")
        .order("id")
        .limit(10)
        .execute()
    )
    assert [row["status"] for row in newest_two.data] == ["s3", "s4", "s5"]
    assert newest_two.data[0]["updated_at"] == "2025-11-03T09:32:58.123456+00:00"
    assert set(newest_two.data[0]) == {
        "id",
        "site_id",
        "session_id",
        "status",
        "created_at",
        "updated_at",
        "row_version",
    }
    after = (
        await client.postgrest.from_("calls")
        .select("status")
        .gt("updated_at", "2025-11-03T09:32:58.123456+00:00")
        .order("updated_at", desc=True)
        .limit(1)
        .execute()
    )
    assert after.data == [{"status": "s5"}]
    exact = await client.postgrest.from_("calls").select("status").eq("status", "s2").execute()
    assert exact.data == [{"status": "s2"}]
    none = await client.postgrest.from_("calls").select("*").eq("status", "absent").execute()
    assert none.data == []


async def test_errors_come_back_as_postgrest_errors(emulator: RunningEmulator) -> None:
    client = await acreate_client(emulator.url, emulator.service_key)
    with pytest.raises(APIError) as missing:
        await client.postgrest.from_("nope").select("*").execute()
    assert missing.value.code == "PGRST205"
    with pytest.raises(APIError) as column:
        await client.postgrest.from_("calls").select("*").eq("bogus", "1").execute()
    assert column.value.code == "42703"
    expired = await acreate_client(emulator.url, emulator.service_key)
    expired.postgrest.auth(mint_token(JWT_SECRET, role="authenticated", ttl_s=-5))
    with pytest.raises(APIError) as refused:
        await expired.postgrest.from_("calls").select("*").execute()
    assert refused.value.code == "PGRST303"


async def test_catch_up_column_types_match_the_schema(emulator: RunningEmulator) -> None:
    """The static types the catch-up uses before a push told it any are the live schema's."""
    async with await psycopg.AsyncConnection.connect(emulator.dsn, row_factory=dict_row) as conn:
        for table, types in CATCHUP_COLUMN_TYPES.items():
            rows = await (
                await conn.execute(
                    "SELECT a.attname::text AS name, t.typname::text AS type FROM pg_attribute a "
                    "JOIN pg_type t ON t.oid = a.atttypid WHERE a.attrelid = %s::regclass "
                    "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                    (f"public.{table}",),
                )
            ).fetchall()
            assert {row["name"]: row["type"] for row in rows} == types, table


async def test_rest_rows_canonicalise_like_database_rows(emulator: RunningEmulator) -> None:
    await _seed(emulator.dsn)
    client = await acreate_client(emulator.url, emulator.service_key)
    rest_rows = (
        await client.postgrest.from_("calls").select("*").order("id").limit(10).execute()
    ).data
    async with await psycopg.AsyncConnection.connect(emulator.dsn, row_factory=dict_row) as conn:
        db_rows = await (await conn.execute("SELECT * FROM calls ORDER BY id")).fetchall()
    types = CATCHUP_COLUMN_TYPES["calls"]
    assert [canonical_row(r, types) for r in rest_rows] == [
        canonical_row(dict(r), types) for r in db_rows
    ]
