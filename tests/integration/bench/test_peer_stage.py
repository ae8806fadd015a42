"""The bench's peer stage end to end on a small input: Quix Streams against ``pulse worker``.

Needs the optional Quix Streams extra; skipped (and saying so) without it.
"""

from __future__ import annotations

import psycopg
import pytest

from workers.bench.input import prepare_input
from workers.bench.peer import peer_installed, peer_stage
from workers.bench.results import BenchFigures
from workers.bench.run import SITES, measure_worker
from workers.bench.site_day_totals import Totals, differences
from workers.kpis.sql import recompute_kpis
from workers.services.embedded import Endpoints
from workers.settings import KafkaSettings
from workers.stream.rules.kpis import KINDS

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not peer_installed(), reason="Quix Streams is not installed: '.[peer]'"),
]

CHANGES = 1500


def sql_totals(dsn: str) -> dict[tuple[str, str], Totals]:
    with psycopg.connect(dsn) as conn:
        kpis = recompute_kpis(conn, None, None)
    return {
        (site, day.isoformat()): tuple(getattr(snapshot, kind) for kind in KINDS)
        for (site, day), snapshot in kpis.items()
    }


async def test_the_peer_publishes_the_worker_s_totals_and_is_measured(
    fresh_db: str, kafka_settings: KafkaSettings
) -> None:
    assert kafka_settings.bootstrap_servers
    services = Endpoints(fresh_db, kafka_settings.bootstrap_servers, "the tests' broker")
    bench_input = await prepare_input(fresh_db, kafka_settings, CHANGES, SITES)
    worker = await measure_worker(services, kafka_settings, bench_input.changes)
    figures = BenchFigures(partitions=kafka_settings.partitions)
    lines: list[str] = []
    peer = await peer_stage(
        services, kafka_settings, bench_input.changes, worker, figures, lines.append
    )
    assert peer is not None
    truth = sql_totals(fresh_db)
    assert truth
    # The stage checked these already; the test sees them for itself, and against the SQL.
    assert differences(worker.totals, peer.totals) == []
    assert differences(truth, peer.totals) == []
    assert figures.peer_rate and figures.peer_rate > 0
    assert figures.peer_ratio == pytest.approx(worker.rate.rate / figures.peer_rate)
    assert peer.cpu_per_change_us and peer.cpu_per_change_us > 0
    # On so small an input the worker may take it all in its first batch, leaving no CPU
    # window to measure; the ratio is then left out rather than made up.
    if worker.cpu_per_change_us:
        assert figures.peer_cpu_ratio == pytest.approx(
            peer.cpu_per_change_us / worker.cpu_per_change_us
        )
    else:
        assert figures.peer_cpu_ratio is None
    assert any("peer (Quix Streams, exactly-once)" in line for line in lines)
