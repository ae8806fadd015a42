"""What ``pulse ingest-rate`` and ``pulse realtime-rate`` share: services, topics, output."""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from workers.bench.rate_load import SourceRate
from workers.collector import quiet_collector
from workers.logs import configure_logging
from workers.services.embedded import embedded_services
from workers.settings import KafkaSettings, SettingError

Measure = Callable[[str, KafkaSettings, int], Coroutine[Any, Any, SourceRate]]


def run_rate_command(args: argparse.Namespace, name: str, source: str, measure: Measure) -> int:
    """Run ``measure`` on embedded (or configured) services; print the rate as text or JSON."""
    if args.rows < 1:
        raise SettingError("--rows must be at least 1")
    configure_logging()
    say = (lambda _text: None) if args.json else print
    with embedded_services(name, say=say) as services:
        suffix = uuid.uuid4().hex[:8]
        kafka = KafkaSettings(
            KAFKA_BOOTSTRAP_SERVERS=services.bootstrap_servers,
            PULSE_CHANGES_TOPIC=f"{name}_changes_{suffix}",
            PULSE_UPDATES_TOPIC=f"{name}_updates_{suffix}",
            PULSE_REJECTED_TOPIC=f"{name}_rejected_{suffix}",
        )
        say(f"committing {args.rows} rows with the {source} running ...")
        quiet_collector()
        result = asyncio.run(measure(services.dsn, kafka, args.rows))
    if args.json:
        figures = {"rows": result.rows, "seconds": round(result.seconds, 3)}
        print(json.dumps({**figures, f"{name}": round(result.rate)}))
    else:
        print(
            f"{source}: {result.rows} changes in {result.seconds:.2f} s = {result.rate:,.0f} changes/s"
        )
    return 0
