"""Injecting one fault into the running pipeline; each returns once the fault is over (the
process restarted, the broker thawed), with a line saying what was done.

A killed process is started again at once, as a supervisor would: recovering is the pipeline's
job, and the time it takes is what the run measures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from workers.chaos.pipeline import INGEST, Pipeline
from workers.chaos.plan import (
    FREEZE_BROKER,
    KILL_INGEST,
    KILL_WORKER_A,
    KILL_WORKER_B,
    RESTART_BROKER,
    RESTART_POSTGRES,
    WIPE_STATE,
    Fault,
)

StopTraffic = Callable[[], Awaitable[None]]


async def inject(fault: Fault, pipeline: Pipeline, stop_traffic: StopTraffic) -> str:
    if fault.kind == KILL_INGEST:
        return _kill_and_restart(pipeline, INGEST)
    if fault.kind in (KILL_WORKER_A, KILL_WORKER_B):
        assert fault.worker is not None
        return _kill_and_restart(pipeline, fault.worker)
    if fault.kind == WIPE_STATE:
        assert fault.worker is not None
        return _wipe_and_restart(pipeline, fault.worker)
    if fault.kind == RESTART_POSTGRES:
        return await _restart_postgres(pipeline, stop_traffic)
    if fault.kind == FREEZE_BROKER:
        assert fault.freeze_s is not None
        return await _freeze_broker(pipeline, fault.freeze_s)
    if fault.kind == RESTART_BROKER:
        return await _restart_broker(pipeline)
    raise ValueError(f"unknown fault {fault.kind!r}")


def _kill_and_restart(pipeline: Pipeline, name: str) -> str:
    killed = pipeline.kill(name)
    started = pipeline.respawn(name)
    return f"SIGKILL {name} (pid {killed.pid}); started again as pid {started.pid}"


def _wipe_and_restart(pipeline: Pipeline, worker: str) -> str:
    killed = pipeline.kill(worker)
    pipeline.wipe(worker)
    started = pipeline.respawn(worker)
    return (
        f"SIGKILL {worker} (pid {killed.pid}), removed {pipeline.data_dir(worker)}; "
        f"started again as pid {started.pid}"
    )


async def _restart_postgres(pipeline: Pipeline, stop_traffic: StopTraffic) -> str:
    # The generator holds one connection and no retry: it ends its round first, cleanly, so
    # the round still knows what it committed.
    await stop_traffic()
    old = pipeline.postgres.postmaster_pid
    await asyncio.to_thread(pipeline.postgres.stop_server, "fast")
    await asyncio.to_thread(pipeline.postgres.start_server)
    return f"PostgreSQL stopped (fast, pid {old}) and started again as pid {pipeline.postgres.postmaster_pid}"


async def _freeze_broker(pipeline: Pipeline, seconds: float) -> str:
    pipeline.broker.pause()
    try:
        await asyncio.sleep(seconds)
    finally:
        pipeline.broker.resume()
    return (
        f"broker (pid {pipeline.broker.pid}) stopped with SIGSTOP for {seconds:.1f} s, then SIGCONT"
    )


async def _restart_broker(pipeline: Pipeline) -> str:
    old = pipeline.broker.pid
    await asyncio.to_thread(pipeline.broker.restart)
    return f"broker stopped (SIGTERM, pid {old}) and started again as pid {pipeline.broker.pid}"
