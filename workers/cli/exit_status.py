"""The exit statuses of ``pulse``, one meaning each, and the README table that lists them.

python -m workers.cli.exit_status            # print the Markdown table
python -m workers.cli.exit_status --write    # replace the table between the README's markers
"""

from __future__ import annotations

import argparse
import sys
from enum import IntEnum

from workers.docs_blocks import write_block

BLOCK = "exit-status-table"


class ExitStatus(IntEnum):
    OK = 0
    DIFFERENT = 1
    FAILED = 2
    INTERRUPTED = 130


MEANINGS = {
    ExitStatus.OK: "Done; a service (`ingest`, `worker`, `emulator`) stopped by SIGTERM or SIGINT "
    "after draining.",
    ExitStatus.DIFFERENT: "`pulse audit`, `pulse rebuild`, `pulse demo --check` and `pulse chaos` "
    "only: the run worked and found KPIs that differ (`pulse chaos` also: a change lost or double "
    "counted, or a fault the pipeline did not converge from). Nothing else exits 1.",
    ExitStatus.FAILED: "Not done: a setting or option missing or invalid, Kafka or Postgres "
    "unreachable or refusing the login, bad input, or a failure at run time. One line on stderr "
    "says why (a traceback only for an unexpected error).",
    ExitStatus.INTERRUPTED: "Interrupted by Ctrl-C: a tool, the demo, or a service still starting.",
}


def render_table() -> str:
    lines = ["| Status | Meaning |", "|---|---|"]
    lines += [f"| {status.value} | {MEANINGS[status]} |" for status in ExitStatus]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers.cli.exit_status", description=__doc__)
    parser.add_argument("--write", action="store_true", help="update README.md in place")
    args = parser.parse_args(argv)
    if args.write:
        write_block(BLOCK, render_table())
    else:
        sys.stdout.write(render_table())
    return ExitStatus.OK


if __name__ == "__main__":
    sys.exit(main())
