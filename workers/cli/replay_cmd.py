"""``pulse replay``: records of a topic between two positions, as JSON lines, for audit."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from workers.cli.arguments import add_connection_arguments
from workers.settings import KafkaSettings
from workers.tools.command import (
    bootstrap,
    database_url,
    position,
    tool_command,
)
from workers.tools.offsets import Position
from workers.tools.reading import TopicReader
from workers.tools.replay import TOPIC_KINDS, TopicKind, replay, topic_name
from workers.tools.sites import connect, ensure_site_known


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "replay",
        help="print a topic's records between two positions, for audit",
        description=(
            "One JSON line per record: topic, partition, offset, timestamp, key, value, and "
            "'error' when the value is not a valid record of the topic. --from and --to are "
            "inclusive; offsets are per partition, so offset:N needs --site or --partition "
            "on a topic of several partitions. With DATABASE_URL set, --site is first checked "
            "against the sites table."
        ),
    )
    parser.add_argument("--topic", required=True, choices=TOPIC_KINDS, help="the topic to read")
    parser.add_argument(
        "--site",
        metavar="ID",
        help="only this site's partition and key (default: every site)",
    )
    parser.add_argument(
        "--partition",
        type=int,
        metavar="N",
        help="only this partition (default: every partition)",
    )
    parser.add_argument(
        "--from",
        dest="start",
        type=position,
        required=True,
        metavar="POSITION",
        help="first position, inclusive: beginning, end, offset:N or time:ISO",
    )
    parser.add_argument(
        "--to",
        type=position,
        metavar="POSITION",
        help="last position, inclusive: beginning, end, offset:N or time:ISO (default: the end when it starts)",
    )
    add_connection_arguments(parser)
    parser.set_defaults(handler=handle)


@tool_command
def handle(args: argparse.Namespace) -> int:
    settings = KafkaSettings()
    servers = bootstrap(settings)
    return asyncio.run(
        replay_to_stdout(
            servers,
            args.topic,
            topic_name(args.topic, settings),
            args.start,
            args.to,
            args.site,
            args.partition,
        )
    )


async def replay_to_stdout(
    servers: str,
    kind: TopicKind,
    topic: str,
    start: Position,
    to: Position | None,
    site_id: str | None,
    partition: int | None,
) -> int:
    dsn = database_url()
    if site_id is not None and dsn:
        with connect(dsn) as conn:
            ensure_site_known(conn, site_id)
    invalid = 0
    async with TopicReader(servers, topic) as reader:
        async for item in replay(reader, kind, start, to, site_id=site_id, partition=partition):
            invalid += item.error is not None
            sys.stdout.buffer.write(item.to_json() + b"\n")
    sys.stdout.buffer.flush()
    if invalid:
        print(f"warning: {invalid} record(s) are not valid {kind} values", file=sys.stderr)
    return 0
