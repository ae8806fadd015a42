"""``pulse ingest-rate --rows N``: print the WAL ingest rate, Postgres commit to Kafka ack."""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from typing import Any

from workers.ingest.rate import IngestRate, measure_ingest_rate
from workers.logs import configure_logging
from workers.services.embedded import embedded_services
from workers.settings import KafkaSettings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ingest-rate",
        help="Measure the WAL ingest rate (changes/s, Postgres commit to Kafka ack).",
        description="Commit N rows and time the WAL ingest until Kafka acknowledged them all. "
        "Uses DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS when set (a scratch database is created "
        "there), else throwaway services.",
    )
    parser.add_argument("--rows", type=int, default=100_000, help="rows to commit (default 100000)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.rows < 1:
        raise SystemExit("error: --rows must be at least 1")
    configure_logging()
    say = (lambda _text: None) if args.json else print
    with embedded_services("rate", say=say) as services:
        suffix = uuid.uuid4().hex[:8]
        kafka = KafkaSettings(
            KAFKA_BOOTSTRAP_SERVERS=services.bootstrap_servers,
            PULSE_CHANGES_TOPIC=f"rate_changes_{suffix}",
            PULSE_UPDATES_TOPIC=f"rate_updates_{suffix}",
            PULSE_REJECTED_TOPIC=f"rate_rejected_{suffix}",
        )
        say(f"committing {args.rows} rows with the WAL ingest running ...")
        result: IngestRate = asyncio.run(measure_ingest_rate(services.dsn, kafka, args.rows))
    if args.json:
        print(
            json.dumps(
                {
                    "rows": result.rows,
                    "seconds": round(result.seconds, 3),
                    "ingest_rate": round(result.rate),
                }
            )
        )
    else:
        print(
            f"ingest: {result.rows} changes in {result.seconds:.2f} s = {result.rate:,.0f} changes/s"
        )
    return 0
