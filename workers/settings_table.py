"""The README's configuration table, generated from the settings classes.

    python -m workers.settings_table            # print the Markdown table
    python -m workers.settings_table --write    # replace the table between the README's markers

A test compares the README with this output, so the table cannot go stale.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable

from workers.docs_blocks import write_block
from workers.settings_catalog import SettingField, settings_fields

BLOCK = "settings-table"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{_cell(text)}`" if text and not text.startswith("(") else text


def render_table(fields: list[SettingField]) -> str:
    """One row per variable; a variable read by several classes lists them all."""
    by_variable: dict[str, list[SettingField]] = {}
    for field in sorted(fields, key=lambda f: (f.variable, f.owner)):
        by_variable.setdefault(field.variable, []).append(field)
    lines = [
        "| Variable | Default | Accepts | Read by | Meaning |",
        "|---|---|---|---|---|",
    ]
    for variable, readers in by_variable.items():
        owners = ", ".join(f"`{f.owner.removeprefix('workers.')}`" for f in readers)
        defaults = _distinct(_code(f.default) for f in readers)
        accepts = _distinct(_cell(f.accepts) for f in readers)
        meaning = _distinct(_cell(f.description) for f in readers if f.description)
        lines.append(f"| `{variable}` | {defaults} | {accepts} | {owners} | {meaning} |")
    return "\n".join(lines) + "\n"


def _distinct(values: Iterable[str]) -> str:
    return " / ".join(dict.fromkeys(values))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers.settings_table", description=__doc__)
    parser.add_argument("--write", action="store_true", help="update README.md in place")
    args = parser.parse_args(argv)
    table = render_table(settings_fields())
    if args.write:
        write_block(BLOCK, table)
    else:
        sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
