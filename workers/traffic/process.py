"""``workers.traffic.generate`` in a child process of its own, for ``pulse demo`` and ``pulse chaos``.

``generate`` is a blocking loop that stops only between transactions. SIGTERM sets its stop
event: the transaction in progress commits, no other starts, and the summary of what was
committed is written to ``--summary`` as JSON, so traffic cut short (by Ctrl-C in the demo, before
a PostgreSQL restart in a chaos round) still says exactly what the pipeline must account for.

    python -m workers.traffic.process --sites 3 --changes 800 --rate 100 --seed 7 --summary out.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from types import FrameType

from workers.traffic.generator import generate

# Rows per transaction: about 20 commits per second at any rate, so the dashboard moves smoothly.
COMMITS_PER_SECOND = 20


def transaction_size(rate: float) -> int:
    return max(1, min(100, round(rate / COMMITS_PER_SECOND)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers.traffic.process")
    parser.add_argument("--sites", type=int, required=True)
    parser.add_argument("--changes", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--forged-ratio", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--summary", type=Path, required=True)
    args = parser.parse_args(argv)
    dsn = os.environ.get("DATABASE_URL")
    if not dsn:
        print("DATABASE_URL is not set", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    summary = generate(
        dsn,
        sites=args.sites,
        changes=args.changes,
        forged_ratio=args.forged_ratio,
        seed=args.seed,
        rate=args.rate,
        days=1,
        transaction_size=transaction_size(args.rate),
        stop=stop,
    )
    args.summary.write_text(json.dumps(asdict(summary)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
