"""Stopping a demo child stops everything in its process group, even what ignores SIGTERM."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tests.process_checks import wait_gone
from workers.demo.children import spawn


def test_stop_takes_the_whole_group_down(tmp_path: Path) -> None:
    # The grandchild ignores SIGTERM and outlives its parent's exit: only the group kill reaches it.
    script = (
        "import os, signal, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    child = spawn("sleeper", [sys.executable, "-c", script], dict(os.environ), tmp_path)
    deadline = time.monotonic() + 10
    while not child.logfile.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.05)
    grandchild = int(child.logfile.read_text().split()[0])
    assert os.getpgid(child.pid) == child.pid != os.getpgid(0)
    status = child.stop(timeout=2)
    assert status is not None and not child.running()
    assert wait_gone(grandchild), "the grandchild outlived stop()"


def test_log_tail_returns_the_last_lines(tmp_path: Path) -> None:
    child = spawn(
        "printer",
        [sys.executable, "-c", "print('\\n'.join(str(n) for n in range(50)))"],
        dict(os.environ),
        tmp_path,
    )
    child.process.wait(10)
    assert child.log_tail(3).splitlines() == ["47", "48", "49"]
    assert child.stop() == 0
