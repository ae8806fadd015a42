"""The chaos run's report: a row per fault, the final audit, memory at the start and the end, and
the exit status they add up to. Pure: the runner gathers the figures, this lays them out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from workers.chaos.accounting import Findings
from workers.cli.exit_status import ExitStatus
from workers.stream.rules.accounting import Tally

COLUMNS = (
    "fault",
    "at (s)",
    "converged (s)",
    "consumed",
    "admitted",
    "stale",
    "duplicates",
    "rejected",
    "lost",
    "double counted",
)
MAX_REASONS = 10


@dataclass(frozen=True)
class Memory:
    """A process's resident memory and how long it had been running when measured."""

    rss_mb: float
    age_s: float


@dataclass(frozen=True)
class RoundResult:
    """One fault: when it hit (seconds since the first round began), how long after the fault
    and its round's traffic were over the pipeline converged (None: not within the timeout),
    what the committed tallies counted during the round, and what was lost or double counted
    since the run began, as of the round's end."""

    fault: str
    at_s: float
    converged_s: float | None
    counted: Tally
    findings: Findings


@dataclass(frozen=True)
class ChaosReport:
    seed: int
    rounds: Sequence[RoundResult]
    audit_ok: bool | None = None
    audit_lines: Sequence[str] = ()
    unplanned_exits: Sequence[str] = ()
    rss_start: Mapping[str, Memory | None] | None = None
    rss_end: Mapping[str, Memory | None] | None = None
    failure: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        return all(r.converged_s is not None for r in self.rounds)

    @property
    def exact(self) -> bool:
        return all(r.findings.ok for r in self.rounds)


def exit_status(report: ChaosReport) -> ExitStatus:
    """1 on any loss or double count found, even in a run that then failed; else 2 when the run
    could not be completed; else 1 on a round that did not converge or an audit difference;
    0 otherwise."""
    if not report.exact:
        return ExitStatus.DIFFERENT
    if report.failure is not None or not report.rounds:
        return ExitStatus.FAILED
    if not report.converged or report.audit_ok is not True:
        return ExitStatus.DIFFERENT
    return ExitStatus.OK


def _cells(result: RoundResult) -> list[str]:
    counted = result.counted
    return [
        result.fault,
        f"{result.at_s:.1f}",
        "no" if result.converged_s is None else f"{result.converged_s:.1f}",
        f"{counted.consumed}",
        f"{counted.admitted}",
        f"{counted.stale}",
        f"{counted.duplicates}",
        f"{counted.rejected}",
        f"{result.findings.lost}",
        f"{result.findings.double_counted}",
    ]


def render_table(rounds: Sequence[RoundResult]) -> str:
    """The per-fault table in Markdown, as bench/RESULTS.md records it."""
    rows = [list(COLUMNS), *(_cells(r) for r in rounds)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(rows[0]), rule, *(line(row) for row in rows[1:])])


def render_rss(start: Mapping[str, Memory | None], end: Mapping[str, Memory | None]) -> str:
    """RSS per process at the start and the end; the age at the end says whether a fault
    restarted it in between (then the two are different processes)."""

    def mb(value: Memory | None) -> str:
        return "gone" if value is None else f"{value.rss_mb:.0f} MiB"

    lines = [
        "| process | RSS at the start | RSS at the end | running at the end for |",
        "|---|---:|---:|---:|",
    ]
    for name in sorted(set(start) | set(end)):
        last = end.get(name)
        age = "-" if last is None else f"{last.age_s:.0f} s"
        lines.append(f"| {name} | {mb(start.get(name))} | {mb(last)} | {age} |")
    return "\n".join(lines)


def render_report(report: ChaosReport) -> str:
    parts = [f"pulse chaos, seed {report.seed}: {len(report.rounds)} fault(s)", ""]
    if report.rounds:
        parts += [render_table(report.rounds), ""]
    for result in report.rounds:
        for reason in result.findings.reasons[:MAX_REASONS]:
            parts.append(f"{result.fault} at {result.at_s:.1f} s: {reason}")
        hidden = len(result.findings.reasons) - MAX_REASONS
        if hidden > 0:
            parts.append(f"{result.fault} at {result.at_s:.1f} s: … {hidden} more")
    if report.audit_ok is not None:
        verdict = "every KPI, call and intent equals SQL" if report.audit_ok else "differs from SQL"
        parts.append(f"audit: {verdict}")
        parts += [f"  {line}" for line in report.audit_lines]
    parts += [f"exited on its own and was started again: {e}" for e in report.unplanned_exits]
    parts += report.notes
    if report.rss_start is not None and report.rss_end is not None:
        parts += ["", render_rss(report.rss_start, report.rss_end)]
    if report.failure is not None:
        parts.append(f"failed: {report.failure}")
    status = exit_status(report)
    parts.append(f"result: {_verdict(report, status)} (exit {int(status)})")
    return "\n".join(parts)


def _verdict(report: ChaosReport, status: ExitStatus) -> str:
    if status == ExitStatus.OK:
        return "nothing lost, nothing double counted"
    if status == ExitStatus.FAILED:
        return "the run could not be completed"
    problems = []
    # Each round's figures count everything since the run began: the worst round is the total.
    lost = max((r.findings.lost for r in report.rounds), default=0)
    double = max((r.findings.double_counted for r in report.rounds), default=0)
    if lost or double:
        problems.append(f"lost {lost}, double counted {double} (at most, since the run began)")
    if not report.converged:
        problems.append("a round did not converge")
    if report.audit_ok is not True:
        problems.append("the audit found differences" if report.audit_ok is False else "no audit")
    return "; ".join(problems)
