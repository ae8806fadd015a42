"""Whether the Kafka cluster answers, asked as a client would: a metadata request.

aiokafka's producers and consumers retry by themselves while the brokers are away and raise
nothing until a request times out, so a process cannot tell from them that Kafka is gone. This
watch asks the cluster itself and reports to a ``DependencyLink``: the outage's two log lines,
``pulse_dependency_up``, ``/readyz`` and ``pulse_reconnects_total``. While the cluster answers it
asks every ``interval_s``; while it does not, it asks again after a backoff with jitter.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka.errors import KafkaError

from workers.kafka.clients import new_client
from workers.resilience.backoff import Backoff, BackoffPolicy
from workers.resilience.link import DependencyLink

PROBE_INTERVAL_S = 1.0
# Long enough that a broker busy with a burst still answers in time; a paused or unreachable
# one is noticed after this.
PROBE_TIMEOUT_S = 5.0


async def watch_kafka(
    bootstrap: str,
    link: DependencyLink,
    policy: BackoffPolicy,
    stop: asyncio.Event,
    *,
    interval_s: float = PROBE_INTERVAL_S,
    timeout_s: float = PROBE_TIMEOUT_S,
) -> None:
    """Report the cluster's reachability to ``link`` until ``stop`` is set."""
    client = new_client(bootstrap, request_timeout_ms=int(timeout_s * 1000))
    bootstrapped = False
    backoff = Backoff(policy)
    try:
        while not stop.is_set():
            try:
                async with asyncio.timeout(timeout_s):
                    if not bootstrapped:
                        await client.bootstrap()
                        bootstrapped = True
                    await client.fetch_all_metadata()
            except (KafkaError, OSError, TimeoutError) as exc:
                link.lost(exc)
                delay = backoff.next_delay()
            else:
                link.restored()
                backoff.reset()
                delay = interval_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
    finally:
        await client.close()
