"""Postgres and Kafka for commands that run on embedded defaults.

``DATABASE_URL`` and ``KAFKA_BOOTSTRAP_SERVERS`` win; what is not set is started as a throwaway
service and stopped (its files removed) when the context exits, on errors and Ctrl-C too.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from workers.services.broker import start_broker
from workers.services.database import create_database, drop_database
from workers.services.postgres import start_postgres


@dataclass(frozen=True)
class Endpoints:
    dsn: str
    bootstrap_servers: str
    broker: str  # what runs at bootstrap_servers, for reports


@contextlib.contextmanager
def embedded_services(
    purpose: str, say: Callable[[str], None] = print, scratch_database: bool = True
) -> Iterator[Endpoints]:
    """Yield a database (a scratch one with the schema, unless told otherwise) and a broker."""
    with contextlib.ExitStack() as stack:
        admin_dsn = os.environ.get("DATABASE_URL")
        if admin_dsn:
            say("using Postgres from DATABASE_URL")
        else:
            say("starting a throwaway PostgreSQL ...")
            cluster = start_postgres()
            stack.callback(cluster.stop)
            admin_dsn = cluster.dsn
            say(f"  PostgreSQL on 127.0.0.1:{cluster.port}")
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        broker_name = "the broker at KAFKA_BOOTSTRAP_SERVERS"
        if bootstrap:
            say("using Kafka from KAFKA_BOOTSTRAP_SERVERS")
        else:
            say("starting a throwaway Apache Kafka ...")
            broker = start_broker(say)
            stack.callback(broker.stop)
            bootstrap = broker.bootstrap_servers
            broker_name = broker.name
        dsn = admin_dsn
        if scratch_database:
            name = f"pulse_{purpose}_{uuid.uuid4().hex[:8]}"
            dsn = create_database(admin_dsn, name)
            stack.callback(drop_database, admin_dsn, name)
            say(f"  scratch database {name} with the schema applied")
        yield Endpoints(dsn=dsn, bootstrap_servers=bootstrap, broker=broker_name)
