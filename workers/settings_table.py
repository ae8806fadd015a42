"""The README's configuration table, generated from the settings classes.

    python -m workers.settings_table            # print the Markdown table
    python -m workers.settings_table --write    # replace the table between the README's markers

A test compares the README with this output, so the table cannot go stale.
"""

from __future__ import annotations

import argparse
import sys

from workers.docs_blocks import write_block
from workers.settings_catalog import SettingField, settings_fields

BLOCK = "settings-table"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{_cell(text)}`" if text and not text.startswith("(") else text


def render_table(fields: list[SettingField]) -> str:
    lines = [
        "| Variable | Default | Accepts | Read by | Meaning |",
        "|---|---|---|---|---|",
    ]
    for field in sorted(fields, key=lambda f: (f.variable, f.owner)):
        owner = field.owner.removeprefix("workers.")
        lines.append(
            f"| `{field.variable}` | {_code(field.default)} | {_cell(field.accepts)} "
            f"| `{owner}` | {_cell(field.description)} |"
        )
    return "\n".join(lines) + "\n"


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
