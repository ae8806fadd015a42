"""Every ``pulse`` option speaks in one voice: the same placeholders, listed values, one help style.

The rules walk the parser that ``pulse`` itself builds, so an option added without a metavar
(argparse then shows its dest, such as ``APP_ID``), without help, or with a help sentence in
another style fails here rather than in review.
"""

from __future__ import annotations

import argparse
import re

import pytest

from workers.cli.bench_cmd import STAGES
from workers.cli.main import build_parser, installed_version
from workers.settings_catalog import faust_fields, settings_fields

# N: a count; RATE: per second; RATIO: a share from 0 to 1; DAY: YYYY-MM-DD; POSITION: a place
# in a topic; STAGES: a comma-separated list of bench stages.
PLACEHOLDERS = {
    "N", "RATE", "RATIO", "SECONDS", "MS", "ID", "DIR", "FILE", "HOST", "PORT", "HOST:PORT",
    "URL", "DAY", "SECRET", "POSITION", "STAGES",
}  # fmt: skip
# Placeholders that stand for a fixed vocabulary: the help must name every word of it.
VOCABULARIES = {
    "POSITION": ("beginning", "end", "offset:N", "time:ISO"),
    "STAGES": STAGES,
}
DEFAULT = re.compile(r"\(default: ([^()]*)\)$")
VARIABLE_DEFAULT = re.compile(r"^([A-Z][A-Z0-9_]+)(?: or (.+))?$")
LONGEST_HELP = 125

Option = tuple[str, argparse.Action]


def commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # noqa: SLF001 - argparse has no public walk of subparsers
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            found: dict[str, argparse.ArgumentParser] = action.choices
            return found
    raise AssertionError("pulse has no subcommands")


def options(parser: argparse.ArgumentParser) -> list[Option]:
    """Every option of every subcommand, named as ``pulse COMMAND --option``."""
    found: list[Option] = []
    for name, command in commands(parser).items():
        for action in command._actions:  # noqa: SLF001
            if not isinstance(action, argparse._HelpAction):  # noqa: SLF001
                found.append((f"pulse {name} {action.option_strings[-1]}", action))
    return found


def takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0


def help_text(action: argparse.Action) -> str:
    """The help as ``--help`` shows it (``%(default)s`` filled in)."""
    assert action.help, "has no help"
    return action.help % {**vars(action), "prog": "pulse"}


def style_problems(text: str) -> list[str]:
    problems = []
    if not text[:1].islower():
        problems.append("starts with a capital; help is a phrase starting lowercase")
    if text.endswith("."):
        problems.append("ends with a period")
    if ". " in text:
        problems.append("holds more than one sentence; move details to the description")
    if len(text) > LONGEST_HELP:
        problems.append(f"is longer than {LONGEST_HELP} characters")
    return problems


def option_problems(action: argparse.Action) -> list[str]:
    if not action.help or action.help == argparse.SUPPRESS:
        return ["has no help"]
    text = help_text(action)
    problems = style_problems(text)
    if not takes_value(action):
        return problems
    if action.choices is not None:
        if action.metavar is not None:
            problems.append("has choices behind a metavar; leave it unset so --help lists them")
    elif action.metavar not in PLACEHOLDERS:
        problems.append(f"placeholder {action.metavar!r} is not one of {sorted(PLACEHOLDERS)}")
    for word in VOCABULARIES.get(str(action.metavar), ()):
        if word not in text:
            problems.append(f"help does not name the accepted value {word!r}")
    if not action.required and not DEFAULT.search(text):
        problems.append("help does not end with (default: ...)")
    return problems


def setting_defaults() -> dict[str, str]:
    return {field.variable: field.default for field in [*settings_fields(), *faust_fields()]}


PARSER = build_parser()
OPTIONS = options(PARSER)


@pytest.mark.parametrize(("name", "action"), OPTIONS, ids=[name for name, _ in OPTIONS])
def test_option_speaks_in_the_house_voice(name: str, action: argparse.Action) -> None:
    assert option_problems(action) == [], name


@pytest.mark.parametrize(("name", "action"), OPTIONS, ids=[name for name, _ in OPTIONS])
def test_a_default_from_the_environment_names_a_real_setting(
    name: str, action: argparse.Action
) -> None:
    match = DEFAULT.search(help_text(action)) if action.help else None
    named = VARIABLE_DEFAULT.match(match.group(1)) if match else None
    if named is None:
        return
    defaults = setting_defaults()
    variable, fallback = named.groups()
    assert variable in defaults, f"{name}: {variable} is no setting"
    if fallback is not None:
        assert fallback == defaults[variable], (
            f"{name}: {variable} defaults to {defaults[variable]}"
        )


@pytest.mark.parametrize("name", sorted(commands(PARSER)))
def test_command_summary_speaks_in_the_house_voice(name: str) -> None:
    subparsers = next(
        action
        for action in PARSER._actions  # noqa: SLF001
        if isinstance(action, argparse._SubParsersAction)  # noqa: SLF001
    )
    summary = next(choice for choice in subparsers._choices_actions if choice.dest == name)  # noqa: SLF001
    assert summary.help, f"pulse {name} has no summary"
    assert style_problems(summary.help) == [], name


def test_version_is_the_installed_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        PARSER.parse_args(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out == f"pulse {installed_version()}\n"
    assert installed_version()[0].isdigit()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"metavar": "APP_ID"}, "placeholder 'APP_ID'"),
        ({"help": None}, "has no help"),
        ({"help": "Where to start (default: beginning)."}, "starts with a capital"),
        ({"help": "where to start: beginning, end or offset:N (default: beginning)"}, "'time:ISO'"),
        ({"help": "where to start"}, "(default: ...)"),
    ],
)
def test_the_rules_see_a_break(change: dict[str, object], problem: str) -> None:
    parser = build_parser()
    start = next(action for name, action in options(parser) if name == "pulse tail --from")
    for attribute, value in change.items():
        setattr(start, attribute, value)
    assert any(problem in found for found in option_problems(start))
