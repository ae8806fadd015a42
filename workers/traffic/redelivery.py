"""Re-delivering a random share of ``supabase_changes``: the duplicates a real pipeline sees.

The helper reads every change published so far (it does not trust the broker's end offsets:
it stops once ``expected`` changes were read and nothing new came for ``quiet_s``), picks a
seeded random ``ratio`` of them and publishes them again, unchanged, in ``ChangeBatch``
envelopes keyed by site, as an at-least-once producer would after a retry.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from typing import Any

import orjson

from workers.ingest.publisher import MAX_CHANGES_PER_MESSAGE, make_producer
from workers.kafka.clients import new_consumer
from workers.kafka.codec import encode_batch


async def read_all_changes(
    bootstrap: str, topic: str, *, expected: int = 0, quiet_s: float = 2.0, timeout_s: float = 120.0
) -> list[dict[str, Any]]:
    """Every change on ``topic``, as JSON dicts, in partition order."""
    consumer = new_consumer(
        bootstrap,
        topic,
        group_id=f"pulse-redelivery-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    changes: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    last_new = time.monotonic()
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=5_000)
            fresh = [record for part in batch.values() for record in part]
            for record in fresh:
                changes.extend(orjson.loads(record.value)["changes"])
            if fresh:
                last_new = time.monotonic()
            elif len(changes) >= expected and time.monotonic() - last_new >= quiet_s:
                break
    finally:
        await consumer.stop()
    if len(changes) < expected:
        raise TimeoutError(f"read {len(changes)} changes from {topic}, expected {expected}")
    return changes


async def redeliver(
    bootstrap: str,
    topic: str,
    *,
    ratio: float = 0.1,
    seed: int = 0,
    expected: int = 0,
    quiet_s: float = 2.0,
) -> list[dict[str, Any]]:
    """Publish a random ``ratio`` of the topic's changes again; returns the re-published ones."""
    changes = await read_all_changes(bootstrap, topic, expected=expected, quiet_s=quiet_s)
    return await publish_share(bootstrap, topic, changes, ratio=ratio, seed=seed)


async def publish_share(
    bootstrap: str, topic: str, changes: list[dict[str, Any]], *, ratio: float, seed: int
) -> list[dict[str, Any]]:
    """Publish a seeded random ``ratio`` of ``changes`` again, batched per site; returns them."""
    rng = random.Random(seed)
    chosen = rng.sample(changes, round(len(changes) * ratio))
    if not chosen:
        return chosen
    by_site: dict[str, list[dict[str, Any]]] = {}
    for change in chosen:
        by_site.setdefault(str(change["site_id"]), []).append(change)
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        futures = []
        for site, site_changes in by_site.items():
            for first in range(0, len(site_changes), MAX_CHANGES_PER_MESSAGE):
                value = encode_batch(site, site_changes[first : first + MAX_CHANGES_PER_MESSAGE])
                futures.append(await producer.send(topic, value, key=site.encode()))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return chosen
