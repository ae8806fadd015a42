"""The image's health check: ``python -m workers.observability.container_health``.

One image runs the ingest, the stream worker or the gateway, so the check asks ``/healthz`` on
each one's configured port over loopback: healthy when one answers 200 and none answers otherwise. A port nobody listens on
is the other kind of worker (or one that has not started yet, which the start period covers).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence

from pydantic_settings import BaseSettings

from workers.gateway.settings import GatewaySettings
from workers.ingest.settings import IngestEndpointSettings
from workers.observability.probes import HEALTH_PATH
from workers.stream.settings import StreamSettings

TIMEOUT_S = 3.0
# (settings class, field): the ports the three services serve /healthz on.
SERVED_PORTS: tuple[tuple[type[BaseSettings], str], ...] = (
    (StreamSettings, "web_port"),
    (IngestEndpointSettings, "metrics_port"),
    (GatewaySettings, "port"),
)


def configured_port(environ: Mapping[str, str], model: type[BaseSettings], field: str) -> int:
    """The port a settings field resolves to: its variable when set, else its default."""
    info = model.model_fields[field]
    variable = info.validation_alias
    assert isinstance(variable, str), f"{model.__name__}.{field} has no plain variable name"
    return int(environ.get(variable, info.default))


def health_status(port: int, timeout: float = TIMEOUT_S) -> int | None:
    """HTTP status of ``/healthz`` on loopback ``port``; None when nothing answers there."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{HEALTH_PATH}", timeout=timeout) as r:
            status: int = r.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def verdict(statuses: Sequence[int | None]) -> int:
    """Exit status for Docker: 0 healthy, 1 unhealthy."""
    answered = [status for status in statuses if status is not None]
    return 0 if answered and all(status == 200 for status in answered) else 1


def main(argv: Sequence[str] | None = None) -> int:
    ports = [int(port) for port in (sys.argv[1:] if argv is None else argv)]
    if not ports:
        ports = [configured_port(os.environ, model, field) for model, field in SERVED_PORTS]
    statuses = {port: health_status(port) for port in ports if port > 0}
    code = verdict(list(statuses.values()))
    print(f"healthz {statuses}: {'ok' if code == 0 else 'failing'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
