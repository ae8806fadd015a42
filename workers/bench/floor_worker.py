"""A worker process with a floor processor: ``python -m workers.bench.floor_worker FLOOR``.

Configured by the environment like ``pulse worker``; only ``pulse bench`` starts it.
"""

from __future__ import annotations

import argparse

from workers.bench.floor import FLOORS, FloorProcessor
from workers.cli.worker_cmd import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workers.bench.floor_worker",
        description="The stream worker's app with a logic-free processor, for pulse bench.",
    )
    parser.add_argument("floor", choices=FLOORS)
    args = parser.parse_args(argv)
    return serve(FloorProcessor(args.floor))


if __name__ == "__main__":
    raise SystemExit(main())
