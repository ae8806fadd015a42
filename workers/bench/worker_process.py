"""A ``pulse worker`` child process for the benchmark, observed through its ``/metrics``."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

from workers.bench.process_usage import cpu_seconds, rss_mb
from workers.services import lifeline
from workers.services.ports import free_port
from workers.settings import KafkaSettings


class WorkerProcess:
    def __init__(self, process: subprocess.Popen[bytes], port: int, logfile: Path) -> None:
        self.process = process
        self.port = port
        self.logfile = logfile

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as reply:
            text: str = reply.read().decode()
            return text

    def counter(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        total = 0.0
        wanted = [f'{key}="{value}"' for key, value in labels.items()]
        for line in self.metrics().splitlines():
            if line.startswith(name) and all(part in line for part in wanted):
                head, _, value = line.rpartition(" ")
                if head.split("{")[0] == name:
                    total += float(value)
        return total

    def processed(self) -> int:
        """Changes the worker consumed: processed plus rejected plus dropped as duplicates."""
        return int(self.counter("pulse_records_in_total", component="stream"))

    def cpu_seconds(self) -> float:
        """User plus system CPU time the worker has used so far, from /proc."""
        return cpu_seconds(self.process.pid)

    def rss_mb(self) -> tuple[float, float]:
        """(current RSS, peak RSS) in MiB, from /proc."""
        return rss_mb(self.process.pid)

    def wait_until_serving(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited early:\n{self.logfile.read_text()[-4000:]}")
            with contextlib.suppress(OSError):
                self.metrics()
                return
            time.sleep(0.1)
        raise TimeoutError("the worker's /metrics did not answer")

    def wait_processed(self, expected: int, timeout: float) -> None:
        """Poll until the worker consumed ``expected`` changes.

        Polling /metrics costs the worker CPU, so it is rare (a quarter second) and only used to
        wait: the stream stage's clock comes from ``update_span``.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited:\n{self.logfile.read_text()[-4000:]}")
            if self.processed() >= expected:
                return
            time.sleep(0.25)
        raise TimeoutError(f"the worker consumed {self.processed()} of {expected} changes")


def worker_env(
    dsn: str, kafka: KafkaSettings, app_id: str, data_dir: Path, metrics_port: int
) -> dict[str, str]:
    """The environment of a bench worker: the bench's topics, its own group and state."""
    assert kafka.bootstrap_servers
    return {
        **os.environ,
        "DATABASE_URL": dsn,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "PULSE_CHANGES_TOPIC": kafka.changes_topic,
        "PULSE_UPDATES_TOPIC": kafka.updates_topic,
        "PULSE_REJECTED_TOPIC": kafka.rejected_topic,
        "PULSE_PARTITIONS": str(kafka.partitions),
        "PULSE_APP_ID": app_id,
        "PULSE_DATA_DIR": str(data_dir),
        "PULSE_WEB_PORT": str(free_port()),
        "PULSE_WORKER_METRICS_PORT": str(metrics_port),
        "PULSE_LOG_FORMAT": "json",
        "PULSE_WORKER_LOG_LEVEL": "warning",
        "PULSE_LOG_LEVEL": "warning",
    }


def start_worker(
    env: dict[str, str], logfile: Path, module: list[str] | None = None
) -> WorkerProcess:
    """``pulse worker`` (or ``python -m MODULE ARGS...``) in its own session, its output
    appended to ``logfile``; the lifeline stops it should the bench die."""
    command = (
        [str(Path(sys.executable).parent / "pulse"), "worker"]
        if module is None
        else [sys.executable, "-m", *module]
    )
    with logfile.open("ab") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log, start_new_session=True)
    lifeline.watch(process.pid)
    return WorkerProcess(process, int(env["PULSE_WORKER_METRICS_PORT"]), logfile)


def stop_worker(worker: WorkerProcess, sig: signal.Signals = signal.SIGTERM) -> None:
    """Stop the worker's process group with ``sig`` (SIGKILL after 60 s) and wait for it."""
    process = worker.process
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    lifeline.forget(process.pid)


@contextlib.contextmanager
def running_worker(
    dsn: str, kafka: KafkaSettings, app_id: str | None = None, module: list[str] | None = None
) -> Iterator[WorkerProcess]:
    """A worker with a fresh app id and data directory; stopped (and its files removed) after.

    ``module`` runs ``python -m MODULE ARGS...`` in place of ``pulse worker``, configured the same
    way: a floor (``floor_worker``) or the stock Faust app (``stock_faust_worker``).
    """
    datadir = Path(tempfile.mkdtemp(prefix="pulse-bench-worker-"))
    lifeline.watch_path(datadir)
    env = worker_env(
        dsn,
        kafka,
        app_id or f"pulse-bench-{uuid.uuid4().hex[:8]}",
        datadir / "data",
        free_port(),
    )
    worker = start_worker(env, datadir / "worker.log", module)
    try:
        worker.wait_until_serving()
        yield worker
    finally:
        stop_worker(worker)
        shutil.rmtree(datadir, ignore_errors=True)
        lifeline.forget_path(datadir)
