import subprocess
from pathlib import Path

from workers.bench.results import (
    FANOUT_SECTION,
    HEADER,
    RESULTS_FILE,
    BenchFigures,
    FanoutFigures,
    append_fanout,
    append_results,
    current_commit,
    insert_row,
)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / RESULTS_FILE).parent.mkdir(parents=True)
    (tmp_path / RESULTS_FILE).write_text("| row |\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "first")
    return tmp_path


def test_a_row_appended_by_an_earlier_run_does_not_mark_the_code_dirty(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    head = git(repo, "rev-parse", "--short", "HEAD")
    with (repo / RESULTS_FILE).open("a") as history:
        history.write("| another row |\n")
    assert current_commit(repo) == head


def test_a_changed_source_file_marks_the_code_dirty(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    head = git(repo, "rev-parse", "--short", "HEAD")
    (repo / "code.py").write_text("x = 2\n")
    assert current_commit(repo) == f"{head}+dirty"


def test_outside_a_repository_the_commit_is_unknown(tmp_path: Path) -> None:
    assert current_commit(tmp_path) == "unknown"


def test_a_row_keeps_the_history_columns_and_names_the_partitions_in_its_notes() -> None:
    figures = BenchFigures(
        partitions=2,
        broker="Apache Kafka 3.9.2",
        changes=1000,
        stream_ratio=0.25,
        notes="rss after: 300",
    )
    cells = figures.row_cells()
    assert len(cells) == len(HEADER.splitlines()[-1].split("|")) - 2 - 2
    assert cells[:2] == ["Apache Kafka 3.9.2", "1,000"]
    assert cells[-1] == "2 partitions; rss after: 300"
    assert BenchFigures(partitions=8).row_cells()[-1] == "8 partitions"


def test_notes_are_joined_with_semicolons() -> None:
    figures = BenchFigures(partitions=4)
    figures.add_note("p99 per 10 s: 100, 120 ms")
    figures.add_note("rss after: 300")
    assert figures.notes == "p99 per 10 s: 100, 120 ms; rss after: 300"
    assert figures.row_cells()[-1] == "4 partitions; p99 per 10 s: 100, 120 ms; rss after: 300"


def test_the_figures_without_a_column_go_into_the_notes_by_name() -> None:
    figures = BenchFigures(
        partitions=8, e2e_p99_ms_high=280.4, group_pause_s=3.25, memory_final_ids=5_000_000
    )
    figures.add_note("rss by ids: ...")
    cells = figures.row_cells()
    assert len(cells) == len(HEADER.splitlines()[-1].split("|")) - 2 - 2
    assert cells[-1] == (
        "8 partitions; e2e_p99_ms_high 280, memory_final_ids 5,000,000, group_pause_s 3.25; "
        "rss by ids: ..."
    )


def test_one_partition_is_singular() -> None:
    assert BenchFigures(partitions=1).row_cells()[-1] == "1 partition"


def test_a_row_names_the_commit_it_is_given_not_the_tree_at_the_end(tmp_path: Path) -> None:
    history = tmp_path / "RESULTS.md"
    append_results(BenchFigures(partitions=8, changes=10), "abc1234", history)
    append_results(BenchFigures(partitions=8, changes=20), "def5678+dirty", history)
    rows = history.read_text().splitlines()
    assert rows[: len(HEADER.splitlines())] == HEADER.splitlines()
    assert [row.split(" | ")[1] for row in rows[-2:]] == ["abc1234", "def5678+dirty"]


def fanout(notes: str = "") -> FanoutFigures:
    return FanoutFigures(
        broker="Apache Kafka 3.9.2", clients=10, sites=2, connected=10, notes=notes
    )


def test_a_fanout_row_goes_into_its_own_table_made_on_first_use(tmp_path: Path) -> None:
    history = tmp_path / "RESULTS.md"
    append_results(BenchFigures(partitions=8), "aaa", history)
    append_fanout(fanout("first"), "bbb", history)
    append_fanout(fanout("second"), "ccc", history)
    append_results(BenchFigures(partitions=8), "ddd", history)
    lines = history.read_text().splitlines()
    columns = FANOUT_SECTION.splitlines()[-2]
    assert lines.count(columns) == 1
    rows = [line.split(" | ")[1] for line in lines if line.startswith("| 20")]
    assert rows == ["aaa", "ddd", "bbb", "ccc"]
    first_fanout = lines.index(columns) + 2
    assert lines[first_fanout].endswith("| first |")
    assert lines[first_fanout + 1].endswith("| second |")


def test_a_fanout_row_has_a_cell_per_column() -> None:
    columns = FANOUT_SECTION.splitlines()[-2]
    assert len(fanout().row_cells()) == len(columns.split("|")) - 2 - 2


def test_insert_row_goes_after_the_last_table_with_those_columns() -> None:
    history = "| a |\n|---|\n| 1 |\n\ntext\n\n| a |\n|---|\n| 2 |\n\n## later\n"
    assert insert_row(history, "| a |", "| 3 |") == history.replace("| 2 |\n", "| 2 |\n| 3 |\n")
    assert insert_row("| b |", "| a |", "| 3 |") == "| b |\n| 3 |\n"


def test_recovery_figures_go_into_the_notes_of_a_row() -> None:
    figures = BenchFigures(
        partitions=8, restart_s=4.25, takeover_s=7.5, notes="wiped: 1,000 distinct changes"
    )
    cells = figures.row_cells()
    assert len(cells) == len(HEADER.splitlines()[-1].split("|")) - 2 - 2
    assert cells[-1] == (
        "8 partitions; recovery after restart 4.2 s, takeover 7.5 s; wiped: 1,000 distinct changes"
    )
