import subprocess
from pathlib import Path

from workers.bench.results import RESULTS_FILE, current_commit


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
