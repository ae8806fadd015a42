"""``pulse realtime-rate --rows N``: print the Realtime source's rate through the emulator."""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from typing import Any

from workers.ingest.realtime_rate import RealtimeRate, measure_realtime_rate
from workers.logs import configure_logging
from workers.services.embedded import embedded_services
from workers.settings import KafkaSettings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "realtime-rate",
        help="Measure the Realtime source's rate (changes/s, commit to Kafka ack, via the emulator).",
        description="Serve the Supabase emulator on a scratch database, run the Realtime source, "
        "commit N rows and time until Kafka acknowledged them all. Uses DATABASE_URL / "
        "KAFKA_BOOTSTRAP_SERVERS when set, else throwaway services.",
    )
    parser.add_argument("--rows", type=int, default=20_000, help="rows to commit (default 20000)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.rows < 1:
        raise SystemExit("error: --rows must be at least 1")
    configure_logging()
    say = (lambda _text: None) if args.json else print
    with embedded_services("rtrate", say=say) as services:
        suffix = uuid.uuid4().hex[:8]
        kafka = KafkaSettings(
            KAFKA_BOOTSTRAP_SERVERS=services.bootstrap_servers,
            PULSE_CHANGES_TOPIC=f"rtrate_changes_{suffix}",
            PULSE_UPDATES_TOPIC=f"rtrate_updates_{suffix}",
            PULSE_REJECTED_TOPIC=f"rtrate_rejected_{suffix}",
        )
        say(f"committing {args.rows} rows with the Realtime source running ...")
        result: RealtimeRate = asyncio.run(measure_realtime_rate(services.dsn, kafka, args.rows))
    if args.json:
        print(
            json.dumps(
                {
                    "rows": result.rows,
                    "seconds": round(result.seconds, 3),
                    "realtime_rate": round(result.rate),
                }
            )
        )
    else:
        print(
            f"realtime: {result.rows} changes in {result.seconds:.2f} s = {result.rate:,.0f} changes/s"
        )
    return 0
