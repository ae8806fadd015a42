"""``pulse demo --duration 20 --check`` as a newcomer runs it: exit 0, audit matches, the page's
URL it prints opens a stream with its token while it runs, nothing left.

On Apache Kafka, and once on the Tansu fallback the demo takes on a machine without Java.

The demo runs as a subprocess with its own ``TMPDIR``, so every temp directory it makes (the
Postgres cluster, the broker's log, the worker's data) lands there, and every process it starts
inherits that ``TMPDIR`` in its environment: after it exits, the directory must be empty and no
process on the machine may carry that environment.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

pytestmark = pytest.mark.integration

DEMO_TIMEOUT_S = 240


@pytest.fixture
def demo_tmpdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pulse-demo-test-"))
    # Postgres runs as the postgres user when the tests run as root: it must reach its datadir.
    path.chmod(0o755)
    try:
        yield path
    finally:
        subprocess.run(["rm", "-rf", str(path)], check=False)


def processes_with_env(entry: str) -> list[int]:
    needle = entry.encode() + b"\0"
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ or environ.endswith(entry.encode()):
            found.append(int(proc.name))
    return found


def first_stream_event(page_url: str) -> str:
    """The page answers, and the first event of the stream its URL's token opens."""
    parts = urlsplit(page_url)
    query = parse_qs(parts.query)
    base = f"{parts.scheme}://{parts.netloc}"
    assert httpx.get(page_url, timeout=10).status_code == 200
    url = f"{base}/sites/{query['site'][0]}/updates"
    headers = {"Authorization": f"Bearer {query['token'][0]}"}
    with httpx.stream("GET", url, headers=headers, timeout=10) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("event: "):
                return line.removeprefix("event: ")
    return ""


def run_demo(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Runs the demo to its end: (exit status, its output, the first event of the stream that
    the page URL it printed opened while the demo ran)."""
    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    output: list[str] = []
    first_event = ""
    deadline = time.monotonic() + DEMO_TIMEOUT_S
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                return process.wait(30), "".join(output), first_event
            output.append(line)
            if line.startswith("http://127.0.0.1:") and not first_event:
                first_event = first_stream_event(line.strip())
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    raise AssertionError(f"the demo ran past {DEMO_TIMEOUT_S} s:\n{''.join(output)}")


@pytest.mark.parametrize("broker", ["kafka", "tansu"])
def test_demo_runs_the_pipeline_audits_and_leaves_nothing_behind(
    demo_tmpdir: Path, broker: str
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    env |= {"TMPDIR": str(demo_tmpdir), "COLUMNS": "200", "PULSE_BROKER": broker}
    status, output, first_event = run_demo(
        [
            sys.executable, "-m", "workers.cli.main", "demo",
            "--duration", "20", "--check", "--sites", "3", "--rate", "150", "--seed", "7",
        ],
        env,
    )  # fmt: skip
    assert status == 0, output
    assert re.search(r"live dashboard page \(site 0 of 3; .*demo JWT secret", output), output
    assert first_event == "snapshot", output
    expected = "Apache Kafka" if broker == "kafka" else "Tansu"
    assert re.search(rf"starting a throwaway broker: {expected}", output), output

    assert re.search(r"audit\s+every site matches", output), output
    forged = int(re.search(r"([\d,]+) events claiming the wrong site", output)[1].replace(",", ""))  # type: ignore[index]
    assert forged > 0, output
    rejected = re.search(r"rejected\s+.*site_mismatch ([\d,]+)", output)
    assert rejected is not None and int(rejected[1].replace(",", "")) == forged, output
    assert re.search(r"the dashboard equalled SQL", output), output

    stopped = re.search(r"stopped\s+(.*)", output)
    assert stopped is not None, output
    pids = {name: int(pid) for name, pid in re.findall(r"([\w-]+) \(pid (\d+)\)", stopped[1])}
    assert {"postgres", "broker", "ingest", "worker", "gateway", "traffic"} <= set(pids), stopped[1]
    for name, pid in pids.items():
        assert not Path(f"/proc/{pid}").exists(), f"{name} (pid {pid}) is still running"
    assert processes_with_env(f"TMPDIR={demo_tmpdir}") == []
    assert list(demo_tmpdir.iterdir()) == []
