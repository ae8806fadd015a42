"""The worker's Prometheus endpoint: no ``_created`` series, and any bind address."""

from __future__ import annotations

import urllib.request

from prometheus_client import REGISTRY, generate_latest

from workers.observability.metrics import COMMIT_TO_PUBLISH, DEDUP_HITS
from workers.observability.metrics_server import serve_worker_metrics
from workers.services.ports import free_port
from workers.stream.settings import StreamSettings


def test_counters_and_histograms_export_no_created_series() -> None:
    DEDUP_HITS.inc()
    COMMIT_TO_PUBLISH.labels("test").observe(0.01)
    text = generate_latest(REGISTRY).decode()
    assert "pulse_dedup_hits_total" in text and "pulse_commit_to_publish_seconds_bucket" in text
    assert "_created" not in text


def test_the_worker_endpoint_listens_where_the_setting_says() -> None:
    assert serve_worker_metrics(StreamSettings(PULSE_WORKER_METRICS_PORT=0)) is None
    port = free_port()
    server = serve_worker_metrics(
        StreamSettings(PULSE_WORKER_METRICS_PORT=port, PULSE_WORKER_METRICS_HOST="0.0.0.0")
    )
    assert server is not None
    try:
        assert server.server_address[:2] == ("0.0.0.0", port)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            body = response.read().decode()
        assert "pulse_dedup_hits_total" in body and "_created" not in body
    finally:
        server.shutdown()
        server.server_close()
