from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workers.ingest.settings import IngestEndpointSettings
from workers.observability.container_health import (
    configured_port,
    health_status,
    main,
    verdict,
)
from workers.services.ports import free_port
from workers.stream.settings import StreamSettings


def serving(status: int) -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def healthy() -> Iterator[int]:
    yield from serving(200)


@pytest.fixture
def broken() -> Iterator[int]:
    yield from serving(503)


def test_status_of_a_served_port(healthy: int, broken: int) -> None:
    assert health_status(healthy) == 200
    assert health_status(broken) == 503
    assert health_status(free_port()) is None


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([200, None], 0),
        ([None, 200], 0),
        ([503, None], 1),
        ([200, 503], 1),
        ([None, None], 1),
        ([], 1),
    ],
)
def test_verdict(statuses: list[int | None], expected: int) -> None:
    assert verdict(statuses) == expected


def test_ports_follow_the_workers_settings() -> None:
    assert configured_port({}, StreamSettings, "web_port") == 6066
    assert configured_port({}, IngestEndpointSettings, "metrics_port") == 9100
    assert configured_port({"PULSE_WEB_PORT": "7000"}, StreamSettings, "web_port") == 7000


def test_main_checks_the_configured_ports(
    healthy: int, broken: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULSE_WEB_PORT", str(healthy))
    monkeypatch.setenv("PULSE_INGEST_METRICS_PORT", str(free_port()))
    assert main([]) == 0
    monkeypatch.setenv("PULSE_INGEST_METRICS_PORT", str(broken))
    assert main([]) == 1
    monkeypatch.setenv("PULSE_INGEST_METRICS_PORT", "0")
    assert main([]) == 0
    assert main([str(broken)]) == 1
