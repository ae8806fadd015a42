from __future__ import annotations

from workers.chaos.accounting import Findings
from workers.chaos.report import ChaosReport, Memory, RoundResult, exit_status, render_report
from workers.cli.exit_status import ExitStatus
from workers.stream.rules.accounting import Tally

COUNTED = Tally(100, 95, 1, 2, 2)


def round_(fault: str = "kill-ingest", **changes: object) -> RoundResult:
    values: dict[str, object] = {
        "fault": fault,
        "at_s": 3.2,
        "converged_s": 4.5,
        "counted": COUNTED,
        "findings": Findings(),
    }
    values.update(changes)
    return RoundResult(**values)  # type: ignore[arg-type]


def test_a_clean_run_exits_0_and_lists_every_fault() -> None:
    report = ChaosReport(seed=7, rounds=[round_(), round_("freeze-broker")], audit_ok=True)
    assert exit_status(report) == ExitStatus.OK
    text = render_report(report)
    assert "| kill-ingest " in text
    assert "| freeze-broker " in text
    assert "lost | double counted |" in text
    assert "(exit 0)" in text


def test_a_lost_change_exits_1() -> None:
    lost = round_(
        findings=Findings(lost=1, reasons=["partition 3: 10 changes on the topic, 9 counted"])
    )
    report = ChaosReport(seed=7, rounds=[round_(), lost], audit_ok=True)
    assert exit_status(report) == ExitStatus.DIFFERENT
    text = render_report(report)
    assert "partition 3: 10 changes on the topic, 9 counted" in text
    assert "(exit 1)" in text


def test_a_double_count_exits_1() -> None:
    double = round_(findings=Findings(double_counted=2))
    assert exit_status(ChaosReport(seed=1, rounds=[double], audit_ok=True)) == 1


def test_a_round_that_did_not_converge_exits_1() -> None:
    report = ChaosReport(seed=1, rounds=[round_(converged_s=None)], audit_ok=True)
    assert exit_status(report) == ExitStatus.DIFFERENT
    assert " no | " in render_report(report)


def test_an_audit_difference_or_no_audit_exits_1() -> None:
    assert exit_status(ChaosReport(seed=1, rounds=[round_()], audit_ok=False)) == 1
    assert exit_status(ChaosReport(seed=1, rounds=[round_()], audit_ok=None)) == 1


def test_a_run_that_could_not_be_made_exits_2() -> None:
    assert exit_status(ChaosReport(seed=1, rounds=[], failure="no Java")) == ExitStatus.FAILED
    assert exit_status(ChaosReport(seed=1, rounds=[])) == ExitStatus.FAILED


def test_memory_is_reported_when_measured() -> None:
    report = ChaosReport(
        seed=1,
        rounds=[round_()],
        audit_ok=True,
        rss_start={"worker-a": Memory(180.0, 50.0), "broker": Memory(400.0, 60.0)},
        rss_end={"worker-a": Memory(190.4, 1800.2), "broker": None},
    )
    text = render_report(report)
    assert "| worker-a | 180 MiB | 190 MiB | 1800 s |" in text
    assert "| broker | 400 MiB | gone | - |" in text


def test_a_loss_found_before_the_run_failed_still_exits_1() -> None:
    lost = round_(findings=Findings(lost=3))
    report = ChaosReport(seed=1, rounds=[round_(), lost], failure="the broker did not start")
    assert exit_status(report) == ExitStatus.DIFFERENT
    clean = ChaosReport(seed=1, rounds=[round_()], failure="the broker did not start")
    assert exit_status(clean) == ExitStatus.FAILED
    assert "| kill-ingest " in render_report(clean)


def test_the_verdict_takes_the_worst_round_not_the_sum() -> None:
    # Rounds count since the run began, so two rounds showing one double count are one.
    double = Findings(double_counted=1358)
    report = ChaosReport(
        seed=3, rounds=[round_(findings=double), round_(findings=double)], audit_ok=False
    )
    assert "double counted 1358 (at most, since the run began)" in render_report(report)
