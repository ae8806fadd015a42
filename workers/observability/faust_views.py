"""``/metrics``, ``/healthz`` and ``/readyz`` on the stream worker's own Faust web server.

How to wire it (where the Faust app is built, before the worker starts):

    readiness = Readiness()
    install_web_views(app, readiness)
    # set RECOVERED once table recovery finished (e.g. in an ``@app.task``, which Faust
    # starts only after recovery) and SOURCE_LIVE once the consumer has partitions assigned.

The views are plain ``@app.page`` views on Faust's aiohttp server, which listens on the app's
``web_port`` / ``web_bind`` (bind ``0.0.0.0`` in a container). That server starts before table
recovery, so ``/healthz`` answers while a large table is restored and ``/readyz`` says 503 until
``RECOVERED`` is set.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.web import Request, Response, View

from workers.observability.probes import (
    HEALTH_PATH,
    METRICS_PATH,
    READY_PATH,
    ProbeResponse,
    health_response,
    metrics_response,
    ready_response,
)
from workers.observability.readiness import Readiness


def _as_faust(view: View, probe: ProbeResponse) -> Response:
    # The content type goes in the headers: aiohttp refuses a charset inside ``content_type``,
    # and Prometheus' exposition type carries one.
    return view.bytes(probe.body, status=probe.status, headers={"Content-Type": probe.content_type})


def install_web_views(app: faust.App, readiness: Readiness) -> None:
    @app.page(METRICS_PATH, name="pulse_metrics")
    async def metrics(view: View, request: Request, **kwargs: Any) -> Response:
        return _as_faust(view, metrics_response())

    @app.page(HEALTH_PATH, name="pulse_healthz")
    async def healthz(view: View, request: Request, **kwargs: Any) -> Response:
        return _as_faust(view, health_response(readiness))

    @app.page(READY_PATH, name="pulse_readyz")
    async def readyz(view: View, request: Request, **kwargs: Any) -> Response:
        return _as_faust(view, ready_response(readiness))
