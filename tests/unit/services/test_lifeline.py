"""The lifeline: children in sessions of their own are stopped when their parent is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.process_checks import gone, wait_gone
from workers.services.lifeline import registered, stop_groups

# A shell that starts a job in the background (``cmd &``) has it ignore SIGINT, and children
# inherit that: the polite child restores Python's own handler so that it listens either way.
SLEEPER = (
    "import signal, time; signal.signal(signal.SIGINT, signal.default_int_handler); time.sleep(300)"
)
STUBBORN = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(300)"


def session_child(code: str) -> subprocess.Popen[bytes]:
    """A child in a session of its own, returned once it runs ``code``'s sleep.

    On a loaded machine an interpreter may take over a second to start, which the grace period
    would otherwise count against it.
    """
    child = subprocess.Popen(
        [sys.executable, "-c", code.replace("time.sleep(", "print(flush=True); time.sleep(")],
        start_new_session=True,
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    child.stdout.readline()
    return child


def test_what_is_registered_follows_the_parents_lines() -> None:
    lines = [
        b"+group 12\n",
        b"+group 10\n",
        b"+path /tmp/a b\n",
        b"+group 11\n",
        b"-group 10\n",
        b"+path /tmp/c\n",
        b"-path /tmp/c\n",
        b"garbage\n",
        b"+group x\n",
        b"-group 99\n",
        b"+path\n",
    ]
    left = registered(lines)
    assert left.groups == [12, 11]
    assert left.paths == [Path("/tmp/a b")]


def test_stop_groups_asks_first_and_kills_what_does_not_listen() -> None:
    polite, stubborn = session_child(SLEEPER), session_child(STUBBORN)
    try:
        started = time.monotonic()
        killed = stop_groups([polite.pid, stubborn.pid], grace_s=1.0)
        assert killed == [stubborn.pid]
        assert polite.wait(5) == -signal.SIGINT or polite.returncode == 1
        assert stubborn.wait(5) == -signal.SIGKILL
        assert time.monotonic() - started < 5
    finally:
        for child in (polite, stubborn):
            if child.poll() is None:
                child.kill()
                child.wait()


def test_children_of_a_killed_parent_are_stopped_and_forgotten_ones_are_not(
    tmp_path: Path,
) -> None:
    parent_code = textwrap.dedent(
        f"""
        import subprocess, sys, time
        from pathlib import Path
        from workers.services.lifeline import Lifeline
        line = Lifeline(grace_s=2.0)
        def child(code):
            return subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
        watched, stubborn, forgotten = child({SLEEPER!r}), child({STUBBORN!r}), child({SLEEPER!r})
        for process in (watched, stubborn, forgotten):
            line.watch(process.pid)
        line.forget(forgotten.pid)
        line.watch_path(Path({str(tmp_path / "scratch")!r}))
        line.watch_path(Path({str(tmp_path / "kept")!r}))
        line.forget_path(Path({str(tmp_path / "kept")!r}))
        print(watched.pid, stubborn.pid, forgotten.pid, line.watcher_pid, flush=True)
        time.sleep(300)
        """
    )
    for name in ("scratch", "kept"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "file").write_text("x")
    out = tmp_path / "parent.out"
    with out.open("wb") as stdout:
        parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=stdout)
    deadline = time.monotonic() + 20
    while not out.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.05)
    watched, stubborn, forgotten, watcher = (int(p) for p in out.read_text().split())
    try:
        time.sleep(0.5)
        assert not any(gone(pid) for pid in (watched, stubborn, forgotten, watcher))
        parent.kill()
        parent.wait()
        assert wait_gone(watched, 5), "a watched child outlived its killed parent"
        assert wait_gone(stubborn, 10), "a child ignoring SIGINT was not killed after the grace"
        assert wait_gone(watcher, 10), "the watcher did not exit after its job"
        assert not gone(forgotten), "a forgotten child was stopped"
        assert not (tmp_path / "scratch").exists()
        assert (tmp_path / "kept" / "file").exists()
    finally:
        for pid in (watched, stubborn, forgotten):
            if not gone(pid):
                os.killpg(pid, signal.SIGKILL)


def test_the_watcher_exits_with_its_parent_when_nothing_is_left() -> None:
    parent_code = textwrap.dedent(
        f"""
        import subprocess, sys
        from workers.services.lifeline import Lifeline
        line = Lifeline()
        child = subprocess.Popen([sys.executable, "-c", {SLEEPER!r}], start_new_session=True)
        line.watch(child.pid)
        child.terminate()
        child.wait()
        line.forget(child.pid)
        print(line.watcher_pid, flush=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", parent_code], capture_output=True, check=True, timeout=30
    )
    watcher = int(done.stdout.split()[0])
    assert wait_gone(watcher, 5)
    assert b"went away" not in done.stderr
