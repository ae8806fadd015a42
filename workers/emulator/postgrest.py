"""The part of PostgREST the catch-up uses: ``GET /rest/v1/<table>`` with select, filters, order, limit.

Rows are rendered by Postgres itself (``json_agg`` over the selected rows, session time zone UTC),
as PostgREST does, so timestamps and numbers reach the ``postgrest`` client in the real spelling.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from aiohttp import web
from psycopg import sql

from workers.emulator.faults import Counters
from workers.emulator.tokens import check_token

OPERATORS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
RESERVED = frozenset({"select", "order", "limit", "offset", "on_conflict", "columns"})
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class PostgrestError(Exception):
    def __init__(self, status: int, code: str, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"code": code, "details": details, "hint": None, "message": message}


def _condition(
    column: sql.Identifier, type_sql: sql.SQL, text: str
) -> tuple[sql.Composable, list[Any]]:
    negate = text.startswith("not.")
    if negate:
        text = text[len("not.") :]
    op, sep, value = text.partition(".")
    if not sep:
        raise PostgrestError(
            400, "PGRST100", f'"failed to parse filter ({text})" (line 1, column 1)'
        )
    clause: sql.Composable
    params: list[Any] = []
    if op in OPERATORS:
        clause = sql.SQL("{} {} %s::text::{}").format(column, sql.SQL(OPERATORS[op]), type_sql)
        params.append(value)
    elif op == "in":
        if not (value.startswith("(") and value.endswith(")")):
            raise PostgrestError(400, "PGRST100", f'"failed to parse filter (in.{value})"')
        items = [item.strip().strip('"') for item in value[1:-1].split(",") if item.strip()]
        clause = sql.SQL("{} = ANY(%s::text[]::{}[])").format(column, type_sql)
        params.append(items)
    elif op == "is":
        literal = {"null": "NULL", "true": "TRUE", "false": "FALSE", "unknown": "UNKNOWN"}.get(
            value.lower()
        )
        if literal is None:
            raise PostgrestError(400, "PGRST100", f'"failed to parse filter (is.{value})"')
        clause = sql.SQL("{} IS {}").format(column, sql.SQL(literal))
    else:
        raise PostgrestError(400, "PGRST100", f'"failed to parse filter ({op}.{value})"')
    if negate:
        clause = sql.SQL("NOT ({})").format(clause)
    return clause, params


def _order(text: str, types: dict[str, str]) -> sql.Composable:
    terms: list[sql.Composable] = []
    for term in text.split(","):
        parts = term.split(".")
        name = parts[0]
        if name not in types:
            raise PostgrestError(400, "42703", f"column {name} does not exist")
        direction = "DESC" if "desc" in parts[1:] else "ASC"
        nulls = ""
        if "nullsfirst" in parts[1:]:
            nulls = " NULLS FIRST"
        elif "nullslast" in parts[1:]:
            nulls = " NULLS LAST"
        terms.append(
            sql.SQL("{} {}{}").format(sql.Identifier(name), sql.SQL(direction), sql.SQL(nulls))
        )
    return sql.SQL(", ").join(terms)


class PostgrestHandler:
    def __init__(self, dsn: str, jwt_secret: str | None, counters: Counters) -> None:
        self.dsn = dsn
        self.jwt_secret = jwt_secret
        self.counters = counters
        self._conn: psycopg.AsyncConnection[tuple[Any, ...]] | None = None

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()

    async def _db(self) -> psycopg.AsyncConnection[tuple[Any, ...]]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
            await self._conn.execute("SET TimeZone = 'UTC'")
        return self._conn

    def _authorize(self, request: web.Request) -> None:
        apikey = request.headers.get("apikey")
        if not apikey:
            raise PostgrestError(401, "", "No API key found in request")
        bearer = request.headers.get("Authorization", "")
        token = bearer[len("Bearer ") :] if bearer.startswith("Bearer ") else apikey
        if token.startswith("sb_"):
            return
        verdict = check_token(token, self.jwt_secret)
        if verdict.error is not None:
            expired = verdict.error.startswith("Token has expired")
            raise PostgrestError(
                401,
                "PGRST303" if expired else "PGRST301",
                "JWT expired" if expired else verdict.error,
            )

    async def handle(self, request: web.Request) -> web.Response:
        self.counters.postgrest_requests += 1
        try:
            self._authorize(request)
            body, count = await self._select(request)
        except PostgrestError as exc:
            return web.json_response(exc.body, status=exc.status)
        content_range = f"0-{count - 1}/*" if count else "*/*"
        return web.Response(
            text=body,
            content_type="application/json",
            charset="utf-8",
            headers={"Content-Range": content_range},
        )

    async def _select(self, request: web.Request) -> tuple[str, int]:
        schema = request.headers.get("Accept-Profile", "public")
        table = request.match_info["table"]
        if schema != "public":
            raise PostgrestError(406, "PGRST106", "Invalid schema: " + schema)
        conn = await self._db()
        rows = await (
            await conn.execute(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'v', 'p') "
                "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                (schema, table),
            )
        ).fetchall()
        types = dict(rows)
        if not types:
            raise PostgrestError(
                404, "PGRST205", f"Could not find the table '{schema}.{table}' in the schema cache"
            )
        select = request.query.get("select", "*")
        if select == "*":
            columns: sql.Composable = sql.SQL("*")
        else:
            names = [name.strip() for name in select.split(",")]
            for name in names:
                if name not in types:
                    raise PostgrestError(400, "42703", f"column {table}.{name} does not exist")
            columns = sql.SQL(", ").join(sql.Identifier(name) for name in names)
        clauses: list[sql.Composable] = []
        params: list[Any] = []
        for key, value in request.query.items():
            if key in RESERVED:
                continue
            if key not in types:
                raise PostgrestError(400, "42703", f"column {table}.{key} does not exist")
            clause, values = _condition(sql.Identifier(key), sql.SQL(types[key]), value)
            clauses.append(clause)
            params.extend(values)
        query = sql.SQL("SELECT {} FROM {}").format(columns, sql.Identifier(schema, table))
        if clauses:
            query = sql.SQL("{} WHERE {}").format(query, sql.SQL(" AND ").join(clauses))
        if "order" in request.query:
            query = sql.SQL("{} ORDER BY {}").format(query, _order(request.query["order"], types))
        for word in ("limit", "offset"):
            if word in request.query:
                try:
                    number = int(request.query[word])
                except ValueError as exc:
                    raise PostgrestError(400, "PGRST100", f'"failed to parse {word}"') from exc
                query = sql.SQL("{} {} {}").format(
                    query, sql.SQL(word.upper()), sql.Literal(number)
                )
        wrapped = sql.SQL(
            "SELECT coalesce(json_agg(t), '[]'::json)::text, count(*) FROM ({}) t"
        ).format(query)
        try:
            result = await (await conn.execute(wrapped, params)).fetchone()
        except psycopg.errors.DataError as exc:
            raise PostgrestError(400, exc.sqlstate or "22000", str(exc).strip()) from exc
        assert result is not None
        return str(result[0]), int(result[1])
