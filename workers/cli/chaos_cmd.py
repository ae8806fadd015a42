"""``pulse chaos``: the whole local pipeline under generated load, with faults from a seed."""

from __future__ import annotations

import argparse
import logging
import os
import random
from pathlib import Path
from typing import Any

from workers.chaos.plan import FAULT_KINDS, parse_faults
from workers.cli.arguments import positive

NON_TERMINAL_WIDTH = 160


def _faults(text: str) -> tuple[str, ...]:
    try:
        return parse_faults(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "chaos",
        help="run the pipeline under load, inject faults from a seed and check nothing is lost",
        description="Start a throwaway PostgreSQL and Apache Kafka, the WAL ingest, two stream "
        "workers and the gateway, then run rounds of generated traffic with one fault each "
        "(SIGKILL of the ingest or a worker, a PostgreSQL restart, a broker frozen or "
        "restarted, a worker's state directory wiped) until the duration is spent, waiting "
        "after each until the pipeline has converged. Prints per fault the time to converge, "
        "the committed counts, and what was lost or double counted; ends with pulse audit. "
        "Exit 1 on any loss, double count, round that did not converge or audit difference.",
    )
    parser.add_argument(
        "--seed", type=int, default=None, metavar="N",
        help="seed of the faults, their timing and the traffic (default: random, printed)",
    )  # fmt: skip
    parser.add_argument(
        "--duration", type=positive(float), default=60.0, metavar="SECONDS",
        help="seconds of rounds; the round under way finishes (default: %(default)g)",
    )  # fmt: skip
    parser.add_argument(
        "--faults", type=_faults, default=FAULT_KINDS, metavar="FAULTS",
        help=f"any of {','.join(FAULT_KINDS)} (default: all)",
    )  # fmt: skip
    parser.add_argument(
        "--rate", type=positive(float), default=100.0, metavar="RATE",
        help="row changes written per second during a round (default: %(default)g)",
    )  # fmt: skip
    parser.add_argument(
        "--soak", action="store_true",
        help="report each process's RSS at the start and the end (on anyway from 600 s)",
    )  # fmt: skip
    parser.add_argument(
        "--logs", type=Path, default=None, metavar="DIR",
        help="copy every process's log into DIR at the end (default: not kept)",
    )  # fmt: skip
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from workers.chaos.runner import ChaosOptions, run_chaos
    from workers.logs import configure_logging

    configure_logging()
    # The run's own topic readers lose the broker on purpose; their client's complaints about it
    # would bury the progress lines.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    options = ChaosOptions(
        seed=seed,
        duration_s=args.duration,
        faults=args.faults,
        rate=args.rate,
        soak=args.soak,
        logs_dir=args.logs,
    )
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = NON_TERMINAL_WIDTH
    console.print(
        f"pulse chaos: seed {seed}, {args.duration:g} s, faults {', '.join(args.faults)}",
        highlight=False,
    )
    return run_chaos(options, console)
