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
Targets: `stream_ratio` >= 0.5, `ingest_rate` >= 20,000, `e2e_p99_ms` <= 150 at 1,000 changes/s,
`worker_rss_mb` <= 400 after 1,000,000 event IDs.

| when (UTC) | commit | broker | changes | passthrough_rate | stream_rate | stream_ratio | ingest_rate | e2e_p50_ms | e2e_p95_ms | e2e_p99_ms | worker_rss_mb | notes |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
"""


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
    notes: str = ""

    def as_json(self) -> dict[str, float | int | str | None]:
        return asdict(self)

    def add_note(self, text: str) -> None:
        self.notes = f"{self.notes}; {text}" if self.notes else text

    def row_cells(self) -> list[str]:
        """The history's columns after the commit; the partition count goes into the notes,
        since the table's columns predate it."""
        values = asdict(self)
        partitions = values.pop("partitions")
        values["notes"] = "; ".join(
            note
            for note in (f"{partitions} partition{'' if partitions == 1 else 's'}", values["notes"])
            if note
        )
        return [_cell(value) for value in values.values()]


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
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    cells = [when, commit, *figures.row_cells()]
    with path.open("a") as out:
        out.write("| " + " | ".join(cells) + " |\n")
