"""Starting the two workers as child processes and waiting until each says it is ready.

- ``pulse ingest --source wal`` is ready once it logs ``streaming`` (slot created, snapshot read);
- ``pulse worker`` once its ``/readyz`` answers 200 or, where that is not served, once its
  progress log lists assigned partitions: only then would a change reach the dashboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Callable

import aiohttp

from workers.demo.children import Child
from workers.demo.failures import DemoFailure
from workers.demo.progress import step
from workers.demo.stack import DemoStack, child_environment, drop_slot_and_publication
from workers.services.ports import free_port
from workers.settings import KafkaSettings

CHILD_START_TIMEOUT_S = 90.0


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def kafka_environment(kafka: KafkaSettings) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers or "",
        "PULSE_CHANGES_TOPIC": kafka.changes_topic,
        "PULSE_UPDATES_TOPIC": kafka.updates_topic,
        "PULSE_REJECTED_TOPIC": kafka.rejected_topic,
        "PULSE_PARTITIONS": str(kafka.partitions),
    }


async def start_ingest(stack: DemoStack, dsn: str, kafka: KafkaSettings) -> Child:
    env = {
        **kafka_environment(kafka),
        "DATABASE_URL": dsn,
        "PULSE_LOG_FORMAT": "json",
        "PULSE_HEARTBEAT_INTERVAL_S": "1",
        "PULSE_INGEST_METRICS_HOST": "127.0.0.1",
        "PULSE_INGEST_METRICS_PORT": str(free_port()),
    }
    if stack.external_database:
        # Someone else's database keeps no slot or publication of ours once the demo is over.
        name = f"pulse_demo_{stack.run_id}"
        env |= {"PULSE_SLOT_NAME": name, "PULSE_PUBLICATION": name}
        stack.on_close("the replication slot", lambda: drop_slot_and_publication(dsn, name))
    with step(stack.console, "starting the WAL ingest (pulse ingest --source wal)") as done:
        child = stack.spawn(
            "ingest",
            python_module("workers.cli.main", "ingest", "--source", "wal"),
            child_environment(env),
        )
        await _wait_for_log(child, '"streaming"', CHILD_START_TIMEOUT_S)
        done.result = f"streaming from the replication slot, pid {child.pid}"
    return child


async def start_worker(stack: DemoStack, dsn: str, kafka: KafkaSettings) -> tuple[Child, str]:
    assert stack.rundir is not None
    web_port, metrics_port = free_port(), free_port()
    env = {
        **kafka_environment(kafka),
        "DATABASE_URL": dsn,
        "PULSE_APP_ID": f"pulse-demo-{stack.run_id}",
        "PULSE_DATA_DIR": str(stack.rundir / "worker-data"),
        "PULSE_WEB_PORT": str(web_port),
        "PULSE_WORKER_METRICS_PORT": str(metrics_port),
        "PULSE_PROGRESS_INTERVAL_S": "1",
        # The broker holds a new group's first join for half the session timeout: 3 s, not 15 s.
        # With a single worker nothing needs the longer timeout's patience.
        "PULSE_SESSION_TIMEOUT_S": "6",
        "PULSE_LOG_FORMAT": "json",
    }
    with step(stack.console, "starting one stream worker (pulse worker)") as done:
        child = stack.spawn(
            "worker", python_module("workers.cli.main", "worker"), child_environment(env)
        )
        await wait_ready(
            child,
            f"http://127.0.0.1:{web_port}/readyz",
            CHILD_START_TIMEOUT_S,
            worker_has_partitions,
        )
        done.result = f"partitions assigned, pid {child.pid}"
    return child, f"http://127.0.0.1:{metrics_port}/metrics"


def worker_has_partitions(log_text: str) -> bool:
    """Whether the worker's progress log says it holds partitions of ``supabase_changes``."""
    for line in log_text.splitlines():
        if '"stream progress"' not in line:
            continue
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if entry.get("event") == "stream progress" and entry.get("assigned"):
                return True
    return False


async def wait_ready(
    child: Child,
    ready_url: str,
    within_s: float,
    log_says_ready: Callable[[str], bool] | None = None,
) -> None:
    """Ready when ``/readyz`` answers 200 or, where given, ``log_says_ready`` finds it in the log
    (for a worker that does not serve ``/readyz``)."""
    deadline = time.monotonic() + within_s
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while time.monotonic() < deadline:
            require_running(child)
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(ready_url) as response:
                    if response.status == 200:
                        return
            if log_says_ready is not None:
                with contextlib.suppress(OSError):
                    if log_says_ready(child.logfile.read_text(errors="replace")):
                        return
            await asyncio.sleep(0.25)
    raise DemoFailure(f"{child.name} was not ready within {within_s:.0f} s:\n{child.log_tail()}")


async def _wait_for_log(child: Child, needle: str, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if needle in child.logfile.read_text(errors="replace"):
                return
        require_running(child)
        await asyncio.sleep(0.1)
    raise DemoFailure(f"{child.name} did not start within {within_s:.0f} s:\n{child.log_tail()}")


def require_running(*children: Child) -> None:
    for child in children:
        if not child.running():
            raise DemoFailure(
                f"{child.name} exited with status {child.process.returncode}; "
                f"last lines of its log:\n{child.log_tail()}"
            )
