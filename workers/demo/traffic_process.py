"""The demo's traffic: ``workers.traffic.generate`` in a child process of its own.

``generate`` is a blocking loop that stops only between transactions; as a child process it can
be stopped at any moment (SIGTERM) like the other workers, and Postgres rolls back the transaction
it was in, so what was committed is exactly what the pipeline must account for. When it runs to the
end it writes its ``TrafficSummary`` as JSON to ``--summary``.

    python -m workers.demo.traffic_process --sites 5 --changes 12000 --rate 200 --summary out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from workers.traffic import generate

# Rows per transaction: about 20 commits per second at any rate, so the dashboard moves smoothly.
COMMITS_PER_SECOND = 20


def transaction_size(rate: float) -> int:
    return max(1, min(100, round(rate / COMMITS_PER_SECOND)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers.demo.traffic_process")
    parser.add_argument("--sites", type=int, required=True)
    parser.add_argument("--changes", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--forged-ratio", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--summary", type=Path, required=True)
    args = parser.parse_args(argv)
    dsn = os.environ.get("DATABASE_URL")
    if not dsn:
        print("DATABASE_URL is not set", file=sys.stderr)
        return 2
    summary = generate(
        dsn,
        sites=args.sites,
        changes=args.changes,
        forged_ratio=args.forged_ratio,
        seed=args.seed,
        rate=args.rate,
        days=1,
        transaction_size=transaction_size(args.rate),
    )
    args.summary.write_text(json.dumps(asdict(summary)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
