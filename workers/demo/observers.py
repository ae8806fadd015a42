"""What the view learns besides the two topics: site names from Postgres and the stream worker's
count of dropped duplicates from its ``/metrics``. Both are best effort: a failed read is retried
on the next tick and never stops the demo.
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import psycopg

from workers.demo.dashboard_state import DashboardState
from workers.demo.view import Header

SITE_NAMES_INTERVAL_S = 2.0
METRICS_INTERVAL_S = 1.0


def site_names(dsn: str) -> dict[str, str]:
    with psycopg.connect(dsn) as conn:
        return {str(row[0]): str(row[1]) for row in conn.execute("SELECT id, name FROM sites")}


async def refresh_site_names(dsn: str, state: DashboardState, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(psycopg.Error):
            state.site_names = await asyncio.to_thread(site_names, dsn)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SITE_NAMES_INTERVAL_S)


async def watch_metrics(url: str, header: Header, stop: asyncio.Event) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while not stop.is_set():
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(url) as response:
                    hits = metric_value(await response.text(), "pulse_dedup_hits_total")
                    if hits is not None:
                        header.duplicates["dropped by the worker"] = int(hits)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), METRICS_INTERVAL_S)


def metric_value(exposition: str, name: str) -> float | None:
    """The value of an unlabelled sample in Prometheus' text exposition, if it is there."""
    for line in exposition.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            with contextlib.suppress(ValueError):
                return float(line.rsplit(" ", 1)[1])
    return None
