"""Every ``pulse`` command, option and environment variable the README names exists.

Commands and options are looked up in the CLI's own argparse parsers, variables in the settings
catalog (or, for the few the embedded services read directly, in the ``os.environ`` look-ups of
``workers/``), so a rename that the README misses fails here. A placeholder after an option
(``--app-id ID``) is the one ``--help`` shows, so the documents and the CLI speak alike.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from workers.cli.main import build_parser
from workers.docs_blocks import DOCS, README, ROOT
from workers.settings_catalog import known_variables

DOCUMENTS = [README, *sorted(DOCS.glob("*.md"))]
FENCED = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
INDENTED = re.compile(r"^(?: {4}|\t)(\S.*)$", re.MULTILINE)
INLINE = re.compile(r"`([^`\n]+)`")
# `pulse` as a command word: at the start, after white space or a path (`.venv/bin/pulse`).
COMMAND = re.compile(r"(?:^|(?<=[\s/]))pulse ([a-z][a-z-]*)((?: +[^\s#]+)*)")
VARIABLE = re.compile(r"\b(?:PULSE|KAFKA|SUPABASE|DATABASE|CONSUMER)_[A-Z0-9_]*[A-Z0-9]\b")
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9:_-]*$")
ENVIRON_READ = re.compile(r"""(?:environ\.get\(|environ\[|getenv\()\s*["']([A-Z0-9_]+)["']""")


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    for action in parser._actions:  # noqa: SLF001 - argparse has no public walk of subparsers
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            found: dict[str, argparse.ArgumentParser] = action.choices
            return found
    raise AssertionError("pulse has no subcommands")


def code_of(document: str) -> list[str]:
    """The document's code: fenced and indented blocks line by line, and inline spans."""
    lines = [line for block in FENCED.findall(document) for line in block.splitlines()]
    prose = FENCED.sub("", document)
    lines += INDENTED.findall(prose)
    lines += INLINE.findall(prose)
    return lines


def command_uses(path: Path) -> list[tuple[str, list[str]]]:
    """Each ``pulse COMMAND ...`` in the document's code, with the words that follow it."""
    uses: list[tuple[str, list[str]]] = []
    for line in code_of(path.read_text(encoding="utf-8")):
        for match in COMMAND.finditer(line):
            # Optional parts in brackets, alternatives as a|b (escaped as a\|b in tables).
            words = re.sub(r"[\[\]]", " ", match.group(2)).replace("\\|", "|").split()
            uses.append((match.group(1), words))
    return uses


def environment_reads() -> set[str]:
    found: set[str] = set()
    for source in (ROOT / "workers").rglob("*.py"):
        found.update(ENVIRON_READ.findall(source.read_text(encoding="utf-8")))
    return found


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.name)
def test_every_named_command_and_option_exists(path: Path) -> None:
    parsers = subcommands()
    for command, words in command_uses(path):
        assert command in parsers, f"{path.name} names `pulse {command}`, which does not exist"
        options = parsers[command]._option_string_actions  # noqa: SLF001
        for index, word in enumerate(words):
            if not word.startswith("--"):
                continue
            option = word.split("=", 1)[0]
            assert option in options, f"{path.name}: `pulse {command}` has no {option}"
            choices = options[option].choices
            following = words[index + 1] if index + 1 < len(words) else None
            if following is not None and PLACEHOLDER.match(following):
                shown = options[option].metavar
                assert following == shown, (
                    f"{path.name}: `pulse {command} {option} {following}`: --help shows "
                    + (f"{shown}" if shown else "its values, " + "|".join(map(str, choices or ())))
                )
            if choices is None or following is None or following.startswith("-"):
                continue
            for value in following.split("|"):
                if value.islower():
                    assert value in choices, (
                        f"{path.name}: `pulse {command} {option}` does not accept {value}"
                    )


def test_the_readme_names_every_command() -> None:
    named = {command for command, _ in command_uses(README)}
    assert named == set(subcommands())


def test_every_variable_the_readme_names_is_read() -> None:
    document = README.read_text(encoding="utf-8")
    known = known_variables() | environment_reads()
    named = {
        match.group(0)
        for match in VARIABLE.finditer(document)
        if not document.startswith("_*", match.end())  # a family such as KAFKA_SSL_*
    }
    assert named, "the README names no variable"
    assert named <= known, f"the README names variables nothing reads: {sorted(named - known)}"


def test_the_check_sees_a_placeholder_that_help_does_not_show(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.md"
    wrong.write_text("Run `pulse rebuild --app-id NEW`.\n")
    with pytest.raises(AssertionError, match="--help shows ID"):
        test_every_named_command_and_option_exists(wrong)


def test_the_check_sees_a_wrong_name(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.md"
    wrong.write_text("Run `pulse ingest --sauce wal`, then `pulse wroker`.\n")
    assert command_uses(wrong) == [("ingest", ["--sauce", "wal"]), ("wroker", [])]
