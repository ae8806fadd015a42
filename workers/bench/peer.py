"""The ``peer`` stage: Quix Streams doing the worker's work on the stream stage's input.

It runs right after the stream stage's worker, on the same topic in the same run, so that
``peer_ratio`` (worker rate / peer rate) and ``peer_cpu_ratio`` (peer CPU per change / the
worker's) compare two processes measured back to back. The peer's rate is read the way the
worker's is, from the producer timestamps of its first and last output. Its CPU time runs from
its first consumed change until its last output is readable, which includes its last commit,
as the worker's count does. The stage then checks that the peer's per-site-per-day totals equal
the worker's and raises ``PeerDisagrees`` when they do not.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from collections.abc import Callable

from aiokafka.structs import ConsumerRecord

from workers.bench.passthrough import assign_all
from workers.bench.results import BenchFigures
from workers.bench.site_day_totals import SiteDay, Totals, differences, peer_totals
from workers.bench.timing import ProcessRun, StageRate
from workers.bench.update_span import span_seconds
from workers.bench.worker_process import WorkerProcess, running_worker
from workers.kafka.clients import new_consumer
from workers.services.embedded import Endpoints
from workers.settings import KafkaSettings

PEER_MODULE = "workers.bench.peer_worker"
INSTALL_HINT = "pip install -e '.[peer]'"
# Differences shown when the totals disagree; the rest are counted.
SHOWN_DIFFERENCES = 10


class PeerDisagrees(RuntimeError):
    """The peer's per-site-per-day totals are not the worker's: its figures would mean nothing."""


def peer_installed() -> bool:
    return importlib.util.find_spec("quixstreams") is not None


def check_totals(worker: dict[SiteDay, Totals], peer: dict[SiteDay, Totals]) -> None:
    """Raise ``PeerDisagrees`` unless both sides published the same, non-empty, totals."""
    if not worker:
        raise PeerDisagrees("the worker published no kpi_updated: nothing to compare the peer with")
    found = differences(worker, peer)
    if found:
        shown = "; ".join(found[:SHOWN_DIFFERENCES])
        more = len(found) - SHOWN_DIFFERENCES
        raise PeerDisagrees(
            f"the peer's totals differ from the worker's in {len(found)} of "
            f"{len(worker.keys() | peer.keys())} site-days: {shown}"
            + (f"; and {more} more" if more > 0 else "")
        )


def peer_figures(worker: ProcessRun, peer: ProcessRun, figures: BenchFigures) -> str:
    """Set the peer's JSON figures; returns the note that carries them into the history."""
    figures.peer_rate = peer.rate.rate
    figures.peer_ratio = worker.rate.rate / peer.rate.rate if peer.rate.rate else None
    worker_us, peer_us = worker.cpu_per_change_us, peer.cpu_per_change_us
    figures.peer_cpu_ratio = peer_us / worker_us if peer_us and worker_us else None
    ratio = "-" if figures.peer_ratio is None else f"{figures.peer_ratio:.2f}"
    cpu = "-" if figures.peer_cpu_ratio is None else f"{figures.peer_cpu_ratio:.2f}"
    peer_cpu = "-" if peer_us is None else f"{peer_us:.1f} us"
    return (
        f"peer (Quix Streams, exactly-once): {peer.rate.rate:,.0f} changes/s, "
        f"worker/peer {ratio}, CPU per change {peer_cpu}, peer/worker {cpu}, "
        f"same totals in {len(peer.totals):,} site-days"
    )


async def peer_stage(
    services: Endpoints,
    kafka: KafkaSettings,
    changes: int,
    worker: ProcessRun,
    figures: BenchFigures,
    say: Callable[[str], None],
) -> ProcessRun | None:
    """Run the peer over the stream stage's input; None (and a line saying why) when Quix
    Streams is not installed."""
    if not peer_installed():
        say(f"peer: skipped, Quix Streams is not installed (install the extra: {INSTALL_HINT})")
        return None
    say("peer: Quix Streams doing the worker's work over the same changes ...")
    peer_kafka = kafka.model_copy(update={"updates_topic": f"{kafka.updates_topic}_peer"})
    peer = await measure_peer(services, peer_kafka, changes)
    check_totals(worker.totals, peer.totals)
    note = peer_figures(worker, peer, figures)
    figures.add_note(note)
    say(f"  {note}")
    return peer


async def measure_peer(services: Endpoints, kafka: KafkaSettings, changes: int) -> ProcessRun:
    with running_worker(services.dsn, kafka, module=[PEER_MODULE]) as peer:
        await asyncio.to_thread(peer.wait_processed, 1, 600)
        cpu_start, changes_start = peer.cpu_seconds(), peer.processed()
        await asyncio.to_thread(peer.wait_processed, changes, 600)
        measured = peer.processed() - changes_start
        records = await read_outputs(
            services.bootstrap_servers, kafka.updates_topic, produced(peer)
        )
        cpu_us = (peer.cpu_seconds() - cpu_start) / measured * 1e6 if measured else None
    totals = peer_totals(record.value for record in records)
    return ProcessRun(StageRate(changes, span_seconds(records)), cpu_us, totals)


def produced(peer: WorkerProcess) -> int:
    """Outputs the peer handed its producer; final once it has consumed every change."""
    return int(peer.counter("pulse_records_out_total", component="peer"))


async def read_outputs(
    bootstrap: str, topic: str, expected: int, timeout_s: float = 120
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic``, read until ``expected`` of them are readable.

    The peer's outputs become readable when its transaction commits, on Quix's commit timer, so
    silence on the topic does not mean the end; the peer's own count does.
    """
    consumer = new_consumer(bootstrap)
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        await assign_all(consumer, bootstrap, topic)
        deadline = time.monotonic() + timeout_s
        while True:
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for part in batch.values():
                records.extend(part)
            if len(records) >= expected:
                return records
            if time.monotonic() > deadline:
                raise TimeoutError(f"read {len(records):,} of the peer's {expected:,} outputs")
    finally:
        await consumer.stop()
