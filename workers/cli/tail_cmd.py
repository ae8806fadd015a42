"""``pulse tail``: one site's dashboard updates, pretty in a terminal, JSON lines otherwise."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from rich.console import Console

from workers.cli.arguments import add_connection_arguments
from workers.settings import KafkaSettings
from workers.tools.command import (
    bootstrap,
    database_url,
    position,
    tool_command,
)
from workers.tools.offsets import Beginning, Position
from workers.tools.reading import TopicReader
from workers.tools.render import invalid_line, json_line, pretty_line
from workers.tools.sites import connect, ensure_site_known
from workers.tools.tail import CaughtUp, site_records


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "tail",
        help="show one site's dashboard updates",
        description=(
            "Reads only the partition of dashboard_updates that holds the site, and only its key. "
            "Without --follow it stops at the end present when it started. With DATABASE_URL set, "
            "the site is first checked against the sites table."
        ),
    )
    parser.add_argument("--site", required=True, metavar="ID", help="the site's id")
    parser.add_argument(
        "--from",
        dest="start",
        type=position,
        default=Beginning(),
        metavar="POSITION",
        help="where to start: beginning, end, offset:N or time:ISO (default: beginning)",
    )
    parser.add_argument("--follow", action="store_true", help="keep printing new updates")
    parser.add_argument(
        "--json", action="store_true", help="print JSON lines, as when stdout is not a terminal"
    )
    add_connection_arguments(parser)
    parser.set_defaults(handler=handle)


@tool_command
def handle(args: argparse.Namespace) -> int:
    settings = KafkaSettings()
    servers = bootstrap(settings)
    return asyncio.run(
        tail(servers, settings.updates_topic, args.site, args.start, args.follow, args.json)
    )


async def tail(
    servers: str, topic: str, site_id: str, start: Position, follow: bool, as_json: bool
) -> int:
    dsn = database_url()
    if dsn:
        with connect(dsn) as conn:
            ensure_site_known(conn, site_id)
    pretty = not as_json and sys.stdout.isatty()
    console = Console(highlight=False)
    errors = Console(stderr=True, highlight=False)
    async with TopicReader(servers, topic) as reader:
        async for item in site_records(reader, site_id, start, follow=follow):
            if isinstance(item, CaughtUp):
                if item.records == 0:
                    errors.print(
                        f"no updates for site {site_id!r} yet on partition {item.partition} "
                        f"of {topic}; waiting for new ones"
                    )
                continue
            if item.update is None:
                errors.print(invalid_line(item), style="yellow")
            elif pretty:
                console.print(pretty_line(item, item.update), soft_wrap=True)
            else:
                sys.stdout.buffer.write(json_line(item, item.update) + b"\n")
                sys.stdout.buffer.flush()
    return 0
