"""The figures of one ``pulse bench`` run, and their history in ``bench/RESULTS.md``."""

from __future__ import annotations

import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

RESULTS_FILE = Path("bench/RESULTS.md")

HEADER = """# Benchmark history

Every `pulse bench` run appends one row (`--no-record` skips it). Rates are changes/s; compare
ratios taken in one run, not absolute figures across runs: these 2-core machines drift by +-25 %.
Targets: `stream_ratio` >= 0.5, `ingest_rate` >= 20,000, `e2e_p99_ms` <= 150 at 1,000 changes/s
and `e2e_p99_ms_high` <= 300 at 10,000, `worker_rss_mb` <= 300 after 1,000,000 event IDs and flat
to 5,000,000; recovery (in the notes) under 10 s after a restart and for a takeover, under 30 s
with a wiped state directory of 1,000,000 keys; `group_pause_s` <= 5.

| when (UTC) | commit | broker | changes | passthrough_rate | stream_rate | stream_ratio | ingest_rate | e2e_p50_ms | e2e_p95_ms | e2e_p99_ms | worker_rss_mb | notes |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
"""

PEER_FIGURES = ("peer_rate", "peer_ratio", "peer_cpu_ratio")
# Figures of the stages added after the history's columns: the notes carry them by name.
NOTED_FIGURES = (
    "high_rate",
    "high_rate_written",
    "e2e_p50_ms_high",
    "e2e_p95_ms_high",
    "e2e_p99_ms_high",
    "memory_final_ids",
    "worker_rss_final_mb",
    "worker_rss_peak_final_mb",
    "group_one_rate",
    "group_rate",
    "group_ratio",
    "group_pause_s",
    "group_partition_pause_s",
)


@dataclass
class BenchFigures:
    partitions: int
    broker: str = ""
    changes: int = 0
    passthrough_rate: float | None = None
    stream_rate: float | None = None
    stream_ratio: float | None = None
    ingest_rate: float | None = None
    e2e_p50_ms: float | None = None
    e2e_p95_ms: float | None = None
    e2e_p99_ms: float | None = None
    worker_rss_mb: float | None = None
    peer_rate: float | None = None
    peer_ratio: float | None = None  # worker rate / peer rate
    peer_cpu_ratio: float | None = None  # peer CPU per change / the worker's
    # The latency stage's second leg: its rate, what was written, and its percentiles.
    high_rate: float | None = None
    high_rate_written: float | None = None
    e2e_p50_ms_high: float | None = None
    e2e_p95_ms_high: float | None = None
    e2e_p99_ms_high: float | None = None
    # The memory stage's last reading: after how many IDs, RSS and peak RSS.
    memory_final_ids: int | None = None
    worker_rss_final_mb: float | None = None
    worker_rss_peak_final_mb: float | None = None
    # The group stage: one worker's rate, two workers' combined rate, their ratio, and the
    # longest time without updates while the second joins (overall, and on the worst partition).
    group_one_rate: float | None = None
    group_rate: float | None = None
    group_ratio: float | None = None
    group_pause_s: float | None = None
    group_partition_pause_s: float | None = None
    notes: str = ""
    # The recovery stage's figures: seconds from a worker's SIGKILL until every partition is
    # processed again. They go into the notes: the history's columns predate them.
    restart_s: float | None = None
    takeover_s: float | None = None
    wiped_s: float | None = None

    def as_json(self) -> dict[str, float | int | str | None]:
        return asdict(self)

    def add_note(self, text: str) -> None:
        self.notes = f"{self.notes}; {text}" if self.notes else text

    def row_cells(self) -> list[str]:
        """The history's columns after the commit; the partition count goes into the notes,
        since the table's columns predate it, and so do the peer's figures (its stage's note)
        and the ``NOTED_FIGURES``, by name."""
        values = asdict(self)
        partitions = values.pop("partitions")
        recovery = [
            f"{name} {seconds:.1f} s"
            for name, seconds in (
                ("recovery after restart", values.pop("restart_s")),
                ("takeover", values.pop("takeover_s")),
                ("wiped state", values.pop("wiped_s")),
            )
            if seconds is not None
        ]
        for name in PEER_FIGURES:
            values.pop(name)
        noted = [
            f"{name} {_cell(value)}"
            for name in NOTED_FIGURES
            if (value := values.pop(name)) is not None
        ]
        values["notes"] = "; ".join(
            note
            for note in (
                f"{partitions} partition{'' if partitions == 1 else 's'}",
                ", ".join(recovery),
                ", ".join(noted),
                values["notes"],
            )
            if note
        )
        return [_cell(value) for value in values.values()]


FANOUT_SECTION = """
## Fan-out: `pulse bench --stages fanout`

N SSE clients over M sites read one `pulse gateway` process from a separate load process, while
events are written to Postgres and go through the WAL ingest and a stream worker. Targets, with
the load generator on the same 2 cores: 10,000 clients, 50,000 delivered messages/s at
`fanout_p95_ms` <= 250 (Postgres commit to the client), `gateway_rss_mb` <= 1,024.
`gateway_cpu_pct` is the gateway's CPU over the measured window, in % of one core.

| when (UTC) | commit | broker | clients | sites | connected | delivered_rate | fanout_p50_ms | fanout_p95_ms | fanout_p99_ms | gateway_rss_mb | gateway_cpu_pct | notes |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
"""


@dataclass
class FanoutFigures:
    broker: str
    clients: int
    sites: int
    connected: int = 0
    delivered_rate: float | None = None
    fanout_p50_ms: float | None = None
    fanout_p95_ms: float | None = None
    fanout_p99_ms: float | None = None
    gateway_rss_mb: float | None = None
    gateway_cpu_pct: float | None = None
    notes: str = ""

    def as_json(self) -> dict[str, float | int | str | None]:
        values = asdict(self)
        del values["broker"]
        values["fanout_clients"] = values.pop("clients")
        values["fanout_sites"] = values.pop("sites")
        values["fanout_connected"] = values.pop("connected")
        values["fanout_delivered_rate"] = values.pop("delivered_rate")
        values["fanout_notes"] = values.pop("notes")
        return values

    def add_note(self, text: str) -> None:
        self.notes = f"{self.notes}; {text}" if self.notes else text

    def row_cells(self) -> list[str]:
        return [_cell(value) for value in asdict(self).values()]


def insert_row(history: str, columns: str, row: str) -> str:
    """``history`` with ``row`` after the last row of the last table whose column line is
    ``columns``; at the end when there is no such table."""
    lines = history.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    found = [i for i, line in enumerate(lines) if line.rstrip("\n") == columns]
    if not found:
        return "".join(lines) + row + "\n"
    at = found[-1] + 1
    while at < len(lines) and lines[at].startswith("|"):
        at += 1
    lines.insert(at, row + "\n")
    return "".join(lines)


def current_commit(repo: Path = Path(".")) -> str:
    """HEAD's short hash, with ``+dirty`` when tracked files other than the history differ.

    The history file is left out of the check: every run appends to it, and the next run still
    measures the same code.
    """
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=repo,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                f":!{RESULTS_FILE}",
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=repo,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+dirty" if dirty else head


def _cell(value: float | int | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 10 else f"{value:,.0f}"
    return str(value) if isinstance(value, str) else f"{value:,}"


def append_results(figures: BenchFigures, commit: str, path: Path = RESULTS_FILE) -> None:
    """One row for a run of ``commit``: the commit read when the run started (see ``bench_cmd``)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(HEADER)
    cells = [_now(), commit, *figures.row_cells()]
    path.write_text(insert_row(path.read_text(), HEADER.splitlines()[-2], _row(cells)))


def append_fanout(figures: FanoutFigures, commit: str, path: Path = RESULTS_FILE) -> None:
    """One row in the history's fan-out table, made with its section when it has none yet."""
    history = path.read_text() if path.exists() else HEADER
    columns = FANOUT_SECTION.splitlines()[-2]
    if columns not in history.splitlines():
        history = history.rstrip("\n") + "\n" + FANOUT_SECTION
    cells = [_now(), commit, *figures.row_cells()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(insert_row(history, columns, _row(cells)))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M")


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"
