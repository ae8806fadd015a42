"""The stream worker's separate Prometheus endpoint (``PULSE_WORKER_METRICS_PORT``)."""

from __future__ import annotations

from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server

from workers.stream.settings import StreamSettings


def serve_worker_metrics(settings: StreamSettings) -> WSGIServer | None:
    """Serves /metrics on a thread at the configured address; None when the port is 0."""
    if not settings.metrics_port:
        return None
    server, _thread = start_http_server(settings.metrics_port, addr=settings.metrics_host)
    return server
