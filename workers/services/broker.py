"""Which embedded broker to start: Apache Kafka, or Tansu only where the caller allows it.

Tests and benchmarks run on Apache Kafka, what our users run. The demo may fall back to Tansu on
a machine without Java, so that it still runs everywhere; ``PULSE_BROKER=tansu`` asks for it
explicitly (the demo's smoke test on it), and tells the clients which broker they talk to
(``kafka.broker_quirks``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from workers.kafka.broker_quirks import TANSU, on_tansu
from workers.services.apache_kafka import start_kafka
from workers.services.kafka_dist import java_available
from workers.services.tansu import start_tansu


class Broker(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def bootstrap_servers(self) -> str: ...

    @property
    def pid(self) -> int: ...

    @property
    def files(self) -> Path:
        """What ``stop`` removes: the broker's data and log."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def stop(self) -> None: ...


def start_broker(say: Callable[[str], None] = print, tansu_fallback: bool = False) -> Broker:
    """Apache Kafka; Tansu when asked for, or when ``tansu_fallback`` and there is no Java."""
    if on_tansu() or (tansu_fallback and not java_available()):
        if not on_tansu():
            say("  no Java here: falling back to Tansu, which lacks transactions (see README)")
            # This process and its children now talk to Tansu (``broker_quirks``).
            os.environ["PULSE_BROKER"] = TANSU
        broker = start_tansu()
        say(f"  {broker.name} on {broker.bootstrap_servers}")
        return broker
    return start_kafka(say)


@contextlib.contextmanager
def throwaway_broker(say: Callable[[str], None] = print) -> Iterator[Broker]:
    broker = start_broker(say)
    try:
        yield broker
    finally:
        broker.stop()
