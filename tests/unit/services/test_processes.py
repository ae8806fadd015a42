"""Stopping a child process: SIGTERM, a grace period, then SIGKILL (``services.processes``)."""

from __future__ import annotations

import signal
import subprocess
import sys

from workers.services.processes import terminate


def test_terminate_waits_for_a_clean_exit_and_kills_a_process_that_ignores_sigterm() -> None:
    polite = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    terminate(polite, grace_s=10)
    assert polite.returncode == -signal.SIGTERM
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ready\n"
    terminate(stubborn, grace_s=0.5)
    assert stubborn.returncode == -signal.SIGKILL
