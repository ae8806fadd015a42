"""The image's entry command stops cleanly on SIGTERM while it is PID 1.

With a Docker engine that is `docker stop` on a container of the built image. Without one, the
same command (the Dockerfile's ENTRYPOINT and compose's ingest command) runs as PID 1 of a new
PID namespace (`unshare`), where, as in a container, the kernel delivers to PID 1 only the
signals it handles.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.dockerfile import parse
from tests.integration.ingest.wal.processes import ingest_env, log_events
from workers.services.containers import docker_available
from workers.settings import KafkaSettings

ROOT = Path(__file__).resolve().parents[3]
NEW_PID_NAMESPACE = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]
GRACE_S = 30


def entry_command() -> list[str]:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    ingest: list[str] = compose["services"]["ingest"]["command"]
    return [*parse().exec_form("ENTRYPOINT"), *ingest]


def pid_one_of(unshare: subprocess.Popen[bytes], timeout_s: float = 10.0) -> int:
    """Host PID of the namespace's PID 1: the child `unshare --fork` started."""
    children = Path(f"/proc/{unshare.pid}/task/{unshare.pid}/children")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = children.read_text().split()
        if found:
            return int(found[0])
        time.sleep(0.05)
    raise AssertionError("unshare started no child")


def require_namespaces() -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and util-linux unshare to run a command as PID 1 without Docker")


def test_a_pid_one_without_a_handler_ignores_sigterm() -> None:
    """The control: the namespace gives PID 1 semantics, so the test below shows something."""
    require_namespaces()
    sleeper = subprocess.Popen(
        [*NEW_PID_NAMESPACE, sys.executable, "-c", "import time; time.sleep(60)"]
    )
    try:
        pid_one = pid_one_of(sleeper)
        time.sleep(0.5)
        os.kill(pid_one, signal.SIGTERM)
        time.sleep(1.0)
        assert sleeper.poll() is None, "PID 1 died of a signal it has no handler for"
    finally:
        sleeper.kill()
        sleeper.wait(10)


def wait_for_streaming(read_log: Any, what: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if "streaming" in read_log():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not start streaming")


def test_entry_command_stops_on_sigterm_as_pid_one(
    fresh_db: str, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    env = ingest_env(fresh_db, kafka_settings)
    if docker_available():
        stop_in_docker(env, tmp_path)
        return
    require_namespaces()
    command = entry_command()
    if shutil.which(command[0]) is None:
        pytest.skip(f"{command[0]}, the image's PID 1, is not installed here")
    # The image puts its environment's bin first on PATH; here that is this interpreter's.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    logfile = tmp_path / "entry.log"
    with logfile.open("wb") as log:
        process = subprocess.Popen([*NEW_PID_NAMESPACE, *command], env=env, stdout=log, stderr=log)
    try:
        wait_for_streaming(lambda: log_events(logfile), " ".join(command))
        os.kill(pid_one_of(process), signal.SIGTERM)
        status = process.wait(GRACE_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert status == 0, logfile.read_text()
    assert "ingest stopped" in log_events(logfile), "SIGTERM must drain and exit"


def stop_in_docker(env: dict[str, str], tmp_path: Path) -> None:
    """`docker stop` on the built image running compose's ingest command."""
    tag = "realtime-pulse:entrypoint-test"
    subprocess.run(["docker", "build", "--quiet", "-t", tag, str(ROOT)], check=True)
    settings = [f"--env={k}={v}" for k, v in env.items() if k.startswith(("PULSE_", "KAFKA_"))]
    container = subprocess.run(
        [
            "docker",
            "run",
            "--detach",
            "--network=host",
            f"--env=DATABASE_URL={env['DATABASE_URL']}",
            *settings,
            tag,
            *entry_command()[len(parse().exec_form("ENTRYPOINT")) :],
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    try:

        def logs() -> list[str]:
            out = subprocess.run(["docker", "logs", container], capture_output=True, check=False)
            (tmp_path / "entry.log").write_bytes(out.stdout + out.stderr)
            return log_events(tmp_path / "entry.log")

        wait_for_streaming(logs, tag)
        subprocess.run(["docker", "stop", f"--time={GRACE_S}", container], check=True)
        status = subprocess.run(
            ["docker", "inspect", "--format={{.State.ExitCode}}", container],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        assert status == "0", logs()
        assert "ingest stopped" in logs()
    finally:
        subprocess.run(["docker", "rm", "--force", container], capture_output=True, check=False)
