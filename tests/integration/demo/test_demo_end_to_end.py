"""``pulse demo --duration 20 --check`` as a newcomer runs it: exit 0, audit matches, nothing left.

On Apache Kafka, and once on the Tansu fallback the demo takes on a machine without Java.

The demo runs as a subprocess with its own ``TMPDIR``, so every temp directory it makes (the
Postgres cluster, the broker's log, the worker's data) lands there, and every process it starts
inherits that ``TMPDIR`` in its environment: after it exits, the directory must be empty and no
process on the machine may carry that environment.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

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
    result = subprocess.run(
        [
            sys.executable, "-m", "workers.cli.main", "demo",
            "--duration", "20", "--check", "--sites", "3", "--rate", "150", "--seed", "7",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
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
    assert {"postgres", "broker", "ingest", "worker", "traffic"} <= set(pids), stopped[1]
    for name, pid in pids.items():
        assert not Path(f"/proc/{pid}").exists(), f"{name} (pid {pid}) is still running"
    assert processes_with_env(f"TMPDIR={demo_tmpdir}") == []
    assert list(demo_tmpdir.iterdir()) == []
