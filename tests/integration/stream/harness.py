"""Running ``pulse worker`` subprocesses and reading what they publish, for the stream tests.

Reads never trust the broker's end offsets (under-reported on the bundled broker): they poll
until a condition holds and nothing new arrived for a quiet spell.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import psycopg
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from tests.cli_command import PULSE
from workers.kafka.clients import new_consumer, partitions_of
from workers.kpis.sql import recompute_kpis
from workers.services import lifeline
from workers.services.processes import terminate
from workers.settings import KafkaSettings
from workers.stream.rules.accounting import TALLY_KEY, Tally
from workers.stream.rules.kpis import KINDS, Contribution, DayAggregate


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    logfile: Path
    data_dir: Path

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        lifeline.forget(self.process.pid)

    def stop(self) -> None:
        terminate(self.process)
        lifeline.forget(self.process.pid)

    def log(self) -> str:
        return self.logfile.read_text(errors="replace")


def start_worker(
    kafka: KafkaSettings,
    *,
    app_id: str,
    data_dir: Path,
    database_url: str | None,
    env: dict[str, str] | None = None,
    command: tuple[str, ...] = (*PULSE, "worker"),
) -> WorkerProcess:
    """``command`` replaces ``pulse worker`` (a worker with test hooks)."""
    assert kafka.bootstrap_servers
    data_dir.mkdir(parents=True, exist_ok=True)
    logfile = data_dir.parent / f"{data_dir.name}-{uuid.uuid4().hex[:6]}.log"
    variables = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "PULSE_CHANGES_TOPIC": kafka.changes_topic,
        "PULSE_UPDATES_TOPIC": kafka.updates_topic,
        "PULSE_REJECTED_TOPIC": kafka.rejected_topic,
        "PULSE_PARTITIONS": str(kafka.partitions),
        "PULSE_APP_ID": app_id,
        "PULSE_DATA_DIR": str(data_dir),
        "PULSE_WEB_PORT": "0",
        "PULSE_SESSION_TIMEOUT_S": "6",
        "PULSE_STANDBY_REPLICAS": "0",
        "PULSE_WORKER_LOG_LEVEL": "info",
        "PULSE_LOG_FORMAT": "json",
        **(env or {}),
    }
    if database_url:
        variables["DATABASE_URL"] = database_url
    else:
        variables.pop("DATABASE_URL", None)
    with logfile.open("wb") as out:
        process = subprocess.Popen(
            list(command),
            env=variables,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    lifeline.watch(process.pid)
    return WorkerProcess(process, logfile, data_dir)


@dataclass
class TopicReader:
    """Keeps reading a topic from offset 0 in the background; ``values`` grows as records come."""

    bootstrap: str
    topic: str
    values: list[dict[str, Any]] = field(default_factory=list)
    last_arrival: float = field(default_factory=time.monotonic)
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = new_consumer(self.bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        partitions = await partitions_of(self.bootstrap, self.topic, wait_s=60)
        assert partitions, f"topic {self.topic} does not exist"
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        self._task = asyncio.create_task(self._run(consumer))

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
                for records in batch.values():
                    for record in records:
                        value = orjson.loads(record.value)
                        value["_key"] = record.key.decode() if record.key else None
                        self.values.append(value)
                        self.last_arrival = time.monotonic()
        finally:
            await consumer.stop()

    async def wait_for(
        self,
        condition: Callable[[list[dict[str, Any]]], bool],
        *,
        quiet_s: float = 2.0,
        timeout_s: float = 120,
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition(self.values) and time.monotonic() - self.last_arrival >= quiet_s:
                return
            await asyncio.sleep(0.2)
        raise TimeoutError(
            f"{self.topic}: condition not met within {timeout_s} s ({len(self.values)} records)"
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def final_kpis(updates: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The newest ``kpi_updated`` snapshot (by seq) of each (site, day)."""
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for update in updates:
        if update["type"] != "kpi_updated":
            continue
        key = (update["site_id"], update["kpis"]["day"])
        if key not in newest or update["seq"] > newest[key]["seq"]:
            newest[key] = update
    return {key: update["kpis"] for key, update in newest.items()}


def normalised(kpis: dict[str, Any]) -> dict[str, Any]:
    """Timestamps compared as instants: the stream spells them canonically, pydantic with +00:00."""
    result = dict(kpis)
    stamp = result.get("last_event_at")
    if stamp:
        from workers.changes.values import canonical_timestamp

        result["last_event_at"] = canonical_timestamp(stamp)
    return result


def sql_kpis(dsn: str) -> dict[tuple[str, str], dict[str, Any]]:
    with psycopg.connect(dsn) as conn:
        figures = recompute_kpis(conn)
    return {
        (site, day.isoformat() if isinstance(day, date) else str(day)): normalised(
            snapshot.model_dump(mode="json")
        )
        for (site, day), snapshot in figures.items()
    }


def kpi_mismatches(dsn: str, updates: list[dict[str, Any]]) -> list[str]:
    """Every (site, day) where the stream's final snapshot differs from SQL recomputation."""
    expected = sql_kpis(dsn)
    got = {key: normalised(value) for key, value in final_kpis(updates).items()}
    problems = []
    for key in sorted(set(expected) | set(got)):
        mine = got.get(key)
        theirs = expected.get(key)
        if (
            theirs is None
            and mine is not None
            and not any(mine[k] for k in ("sessions", "events", "calls", "intents", "conversions"))
        ):
            continue  # every row of that day is gone: SQL has no row, the stream reports zeros
        if mine != theirs:
            problems.append(f"{key}: stream {mine} != sql {theirs}")
    return problems


def kpis_match(dsn: str) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda updates: not kpi_mismatches(dsn, updates)


def progress_lines(worker: WorkerProcess) -> list[dict[str, Any]]:
    """The worker's ``stream progress`` log records (JSON lines), oldest first.

    Faust's own logger and structlog (from two threads) share the file, so a line may be cut by
    another one; such a line is skipped, the next progress line comes a moment later.
    """
    lines = []
    for line in worker.log().splitlines():
        if line.startswith("{") and '"stream progress"' in line:
            try:
                lines.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
    return lines


async def wait_for_progress(
    worker: WorkerProcess, condition: Callable[[dict[str, Any]], bool], timeout_s: float = 90
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lines = progress_lines(worker)
        if lines and condition(lines[-1]):
            return lines[-1]
        if worker.process.poll() is not None:
            raise RuntimeError(
                f"worker exited with {worker.process.returncode}:\n{worker.log()[-4000:]}"
            )
        await asyncio.sleep(0.3)
    raise TimeoutError(f"progress condition not met; last: {progress_lines(worker)[-1:]}")


async def committed_tally(
    running: list[WorkerProcess], consumed: int, timeout_s: float = 30
) -> Tally:
    """The committed tallies of the live workers, summed, once they count exactly ``consumed``
    changes (or what they count at the timeout). While a rebalance is under way two workers may
    both report a partition, so only an exact count ends the wait early.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        total = Tally()
        for worker in running:
            if worker.process.poll() is None:
                lines = progress_lines(worker)
                if lines and lines[-1].get("committed"):
                    total += Tally(**lines[-1]["committed"])
        if total.consumed == consumed or time.monotonic() > deadline:
            return total
        await asyncio.sleep(0.5)


def fold_changelog(values: list[tuple[bytes, bytes | None]]) -> dict[bytes, bytes]:
    """The table a changelog restores: last value per key, tombstones removed."""
    table: dict[bytes, bytes] = {}
    for key, value in values:
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    return table


async def read_raw(
    bootstrap: str, topic: str, *, quiet_s: float = 2.0
) -> list[tuple[bytes, bytes | None]]:
    """Every (key, value) of ``topic`` from offset 0, until nothing new came for ``quiet_s``
    (each partition in order, one after the other)."""
    by_partition = await per_partition(bootstrap, topic, quiet_s)
    return [
        (record.key or b"", record.value)
        for partition in sorted(by_partition)
        for record in by_partition[partition]
    ]


def repeated_updates(updates: list[dict[str, Any]], changes: list[dict[str, Any]]) -> list[str]:
    """What a read-committed reader saw twice: a site's ``seq``, or one change's update.

    Each admitted change is published once, in the transaction that commits its source offset;
    a batch that was processed again after a crash, or by a fenced zombie, would show up here.
    ``changes`` are the source's: a row set back to an earlier state within one transaction gives
    two changes one event ID at two WAL positions, and each position may be published once.
    """
    positions = Counter({event_id: 0 for event_id in (c["event_id"] for c in changes)})
    for event_id, _lsn in {(c["event_id"], c["lsn"]) for c in changes}:
        positions[event_id] += 1
    seen_seq: set[tuple[str, int]] = set()
    published: Counter[tuple[str, str, str | None, tuple[str, ...]]] = Counter()
    repeats: list[str] = []
    for update in updates:
        seq = (update["site_id"], update["seq"])
        if seq in seen_seq:
            repeats.append(f"seq {seq} repeated ({update['type']})")
        seen_seq.add(seq)
        ids = tuple(update["event_ids"])
        if ids:
            # One change may move the KPIs of two days (an intent sealed a day after it began).
            day = update.get("day") or (update.get("kpis") or {}).get("day")
            key = (update["site_id"], update["type"], day, ids)
            published[key] += 1
            if published[key] > min(positions[event_id] for event_id in ids):
                repeats.append(
                    f"{update['type']} of {list(ids)[:3]} published too often (seq {update['seq']})"
                )
    return repeats


def intent_divergence(
    dsn: str, updates: list[dict[str, Any]], changes: list[dict[str, Any]], site: str
) -> list[str]:
    """The intents of ``site`` whose last published state differs from the database row, each
    with the changes the topic holds for it and what became of each: for a failing run's output.
    """
    with psycopg.connect(dsn) as conn:
        rows = {
            str(i): (status, sealed_at)
            for i, status, sealed_at in conn.execute(
                "SELECT id, status, sealed_at FROM intents WHERE site_id = %s", (site,)
            )
        }
    published: dict[str, dict[str, Any]] = {}
    outcome: dict[str, list[str]] = {}
    for update in sorted(updates, key=lambda u: u["seq"]):
        if update["site_id"] != site:
            continue
        for event_id in update["event_ids"]:
            outcome.setdefault(event_id, []).append(f"{update['type']}@{update['seq']}")
        if update["type"] in ("intent_created", "intent_updated"):
            published[update["intent"]["id"]] = update
    lines = []
    for intent_id in sorted(set(rows) | set(published)):
        last = published.get(intent_id)
        mine = None
        if last is not None and not last.get("deleted"):
            mine = (last["intent"]["status"], last["intent"].get("sealed_at"))
        theirs = rows.get(intent_id)
        if (mine is None) != (theirs is None) or (
            mine is not None and theirs is not None and (mine[0] != theirs[0])
        ):
            history = [
                f"{c['op']} lsn={c.get('lsn')} ts={c['commit_timestamp']} "
                f"status={(c.get('record') or {}).get('status')} -> "
                f"{outcome.get(c['event_id'], ['no update'])}"
                for c in changes
                if c["table"] == "intents"
                and ((c.get("record") or c.get("old_record") or {}).get("id") == intent_id)
            ]
            lines.append(f"intent {intent_id}: stream {mine} sql {theirs}; changes {history}")
    return lines


def changes_without_outcome(
    changes: list[dict[str, Any]], updates: list[dict[str, Any]], rejects: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Changes (other than ``sites`` rows, which publish nothing) whose event ID is in no update
    and no reject: lost, or stale. For a failing run's output."""
    seen = {event_id for update in updates for event_id in update["event_ids"]}
    seen |= {reject["event_id"] for reject in rejects if reject.get("event_id")}
    return [c for c in changes if c["table"] != "sites" and c["event_id"] not in seen]


async def per_partition(bootstrap: str, topic: str, quiet_s: float = 2.0) -> dict[int, list[Any]]:
    """Every record of ``topic`` from offset 0, by partition, until nothing new came for
    ``quiet_s``."""
    consumer = new_consumer(bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(await partitions_of(bootstrap, topic))]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        result: dict[int, list[Any]] = {tp.partition: [] for tp in tps}
        last = time.monotonic()
        while time.monotonic() - last < quiet_s:
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for tp, records in batch.items():
                result[tp.partition].extend(records)
                if records:
                    last = time.monotonic()
        return result
    finally:
        await consumer.stop()


async def tallies_by_partition(
    bootstrap: str, app_id: str, changes_topic: str
) -> dict[int, tuple[int, Tally | None]]:
    """Per source partition: the changes it holds, and the last tally its ``days`` changelog
    committed (None: none yet). For a failing run's output."""
    held = {
        partition: sum(len(orjson.loads(r.value)["changes"]) for r in records)
        for partition, records in (await per_partition(bootstrap, changes_topic)).items()
    }
    tallies: dict[int, Tally | None] = dict.fromkeys(held)
    changelog = await per_partition(bootstrap, f"{app_id}-days-changelog")
    for partition, records in changelog.items():
        for record in records:
            if record.key == TALLY_KEY:
                tallies[partition] = Tally.from_bytes(record.value)
    return {partition: (held[partition], tallies.get(partition)) for partition in held}


async def state_inconsistencies(bootstrap: str, app_id: str) -> list[str]:
    """Where the committed ``days`` aggregates differ from the sum of the committed row states'
    contributions, per partition, day and kind (the changelogs folded as a restore would). For
    a failing run's output: a day counted twice has a kind here with its two sums."""
    entities = await per_partition(bootstrap, f"{app_id}-entities-changelog")
    days = await per_partition(bootstrap, f"{app_id}-days-changelog")
    problems = []
    for partition in sorted(set(entities) | set(days)):
        from_rows: Counter[tuple[str, str]] = Counter()
        rows = fold_changelog([(r.key, r.value) for r in entities.get(partition, [])])
        for value in rows.values():
            for day, _bucket, kind in Contribution.from_json(orjson.loads(value)["c"]).cells:
                from_rows[(day, KINDS[kind])] += 1
        from_days: Counter[tuple[str, str]] = Counter()
        folded = fold_changelog([(r.key, r.value) for r in days.get(partition, [])])
        for key, value in folded.items():
            if key == TALLY_KEY:
                continue
            day = key.decode().rsplit("|", 1)[1]
            totals = DayAggregate.from_json(orjson.loads(value)).totals
            for kind, total in zip(KINDS, totals, strict=True):
                from_days[(day, kind)] += total
        for key in sorted(set(from_rows) | set(from_days)):
            if from_rows[key] != from_days[key]:
                problems.append(
                    f"partition {partition} {key}: rows {from_rows[key]}, days {from_days[key]}"
                )
    return problems


async def unmatched_steps(
    bootstrap: str, app_id: str, partition: int, day: str, kind: str, window_ms: int = 50
) -> list[str]:
    """The steps of ``kind`` on ``day`` in the ``days`` changelog of ``partition`` that no row
    state change accounts for (the rows' steps within ``window_ms`` of a day step, by record
    time). For a failing run's output: the batch that counted something twice, with its time."""
    index = KINDS.index(kind)
    day_steps: list[tuple[int, int, str, int]] = []
    last_total: dict[bytes, int] = {}
    for record in (await per_partition(bootstrap, f"{app_id}-days-changelog"))[partition]:
        if record.key == TALLY_KEY or not record.key.endswith(f"|{day}".encode()):
            continue
        total = 0 if record.value is None else orjson.loads(record.value)["t"][index]
        delta = total - last_total.get(record.key, 0)
        last_total[record.key] = total
        if delta:
            day_steps.append((record.timestamp, record.offset, record.key.decode(), delta))
    row_steps: list[tuple[int, int]] = []
    last_count: dict[bytes, int] = {}
    for record in (await per_partition(bootstrap, f"{app_id}-entities-changelog"))[partition]:
        count = 0
        if record.value is not None:
            cells = Contribution.from_json(orjson.loads(record.value)["c"]).cells
            count = sum(1 for d, _bucket, k in cells if d == day and k == index)
        delta = count - last_count.get(record.key, 0)
        last_count[record.key] = count
        if delta:
            row_steps.append((record.timestamp, delta))
    # A batch's records carry about one create time: cluster the steps of both changelogs by
    # time and compare each cluster's sums.
    steps = sorted(
        [(t, d, f"{key}@{offset}") for t, offset, key, d in day_steps]
        + [(t, -d, "") for t, d in row_steps]
    )
    unmatched: list[str] = []
    cluster: list[tuple[int, int, str]] = []
    for step in [*steps, (2**62, 0, "")]:
        if cluster and step[0] - cluster[-1][0] > window_ms:
            if sum(d for _t, d, _w in cluster):
                days_keys = [w for _t, _d, w in cluster if w]
                unmatched.append(
                    f"at {cluster[0][0]} ms: days {days_keys} step "
                    f"{sum(d for _t, d, w in cluster if w):+d}, rows "
                    f"{-sum(d for _t, d, w in cluster if not w):+d}"
                )
            cluster = []
        cluster.append(step)
    return unmatched


def parse_inconsistency(line: str) -> tuple[int, str, str]:
    """(partition, day, kind) of a ``state_inconsistencies`` line."""
    head, _, _rest = line.partition(":")
    words = head.split(" ", 2)
    day, kind = (part.strip(" ()'") for part in words[2].split(","))
    return int(words[1]), day, kind
