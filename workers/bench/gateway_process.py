"""A ``pulse gateway`` child process for the fan-out benchmark, measured from /proc."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from workers.services import lifeline
from workers.services.ports import free_port
from workers.settings import KafkaSettings

READY_TIMEOUT_S = 120.0


@dataclass
class GatewayProcess:
    process: subprocess.Popen[bytes]
    port: int
    logfile: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self) -> str:
        return self.logfile.read_text(errors="replace")[-4000:]

    def counter(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` in the gateway's /metrics whose labels include
        ``labels``."""
        wanted = [f'{key}="{value}"' for key, value in labels.items()]
        url = f"http://127.0.0.1:{self.port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as reply:
            text: str = reply.read().decode()
        total = 0.0
        for line in text.splitlines():
            head, _, value = line.rpartition(" ")
            if head.split("{")[0] == name and all(part in head for part in wanted):
                total += float(value)
        return total

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited early:\n{self.log_tail()}")
            with contextlib.suppress(OSError, urllib.error.URLError):
                url = f"http://127.0.0.1:{self.port}/readyz"
                with urllib.request.urlopen(url, timeout=2) as reply:
                    if reply.status == 200:
                        return
            time.sleep(0.2)
        raise TimeoutError(f"the gateway was not ready within {timeout:.0f} s:\n{self.log_tail()}")


@contextlib.contextmanager
def running_gateway(dsn: str, kafka: KafkaSettings, jwt_secret: str) -> Iterator[GatewayProcess]:
    """A ready gateway on ``kafka``'s updates topic, allowed as many open files as the hard limit
    lets it (each client is a socket); stopped after."""
    assert kafka.bootstrap_servers
    logdir = Path(tempfile.mkdtemp(prefix="pulse-bench-gateway-"))
    lifeline.watch_path(logdir)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "PULSE_UPDATES_TOPIC": kafka.updates_topic,
        "SUPABASE_JWT_SECRET": jwt_secret,
        "PULSE_GATEWAY_PORT": str(port),
        "PULSE_LOG_FORMAT": "json",
        "PULSE_LOG_LEVEL": "warning",
    }
    logfile = logdir / "gateway.log"
    with logfile.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "workers.cli.main", "gateway"],
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    lifeline.watch(process.pid)
    gateway = GatewayProcess(process, port, logfile)
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.prlimit(process.pid, resource.RLIMIT_NOFILE, (hard, hard))
        gateway.wait_ready()
        yield gateway
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        lifeline.forget(process.pid)
        shutil.rmtree(logdir, ignore_errors=True)
        lifeline.forget_path(logdir)
