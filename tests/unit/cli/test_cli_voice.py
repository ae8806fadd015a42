"""Every ``pulse`` option speaks in one voice: the same placeholders, listed values, one help style.

The rules walk the parser that ``pulse`` itself builds, so an option added without a metavar
(argparse then shows its dest, such as ``APP_ID``), without help, or with a help sentence in
another style fails here rather than in review; so does a command that connects to Kafka or
Postgres without taking the server as an option, or an option for a setting whose help does not
name the setting's variable.
"""

from __future__ import annotations

import argparse
import re

import pytest

from workers.chaos.plan import FAULT_KINDS
from workers.cli.bench_cmd import STAGES
from workers.cli.main import build_parser, installed_version
from workers.settings_catalog import faust_fields, settings_fields
from workers.tools.command import position
from workers.tools.offsets import parse_position

# N: a count; RATE: per second; RATIO: a share from 0 to 1; DAY: YYYY-MM-DD; POSITION: a place
# in a topic; STAGES: a comma-separated list of bench stages; FAULTS: a comma-separated list of chaos faults.
PLACEHOLDERS = {
    "N", "RATE", "RATIO", "SECONDS", "MS", "ID", "DIR", "FILE", "HOST", "PORT", "HOST:PORT",
    "URL", "DAY", "SECRET", "POSITION", "STAGES", "FAULTS",
}  # fmt: skip
# Placeholders that stand for a fixed vocabulary: the help must name every word of it.
VOCABULARIES = {
    "POSITION": ("beginning", "end", "offset:N", "time:ISO"),
    "STAGES": STAGES,
    "FAULTS": FAULT_KINDS,
}
# Argument types that accept a fixed vocabulary, and the placeholder that lists it.
VOCABULARY_TYPES: dict[object, str] = {position: "POSITION"}
# The servers a command connects to, by the option that names each one and its variable. Every
# command is listed, so a new one has to say what it connects to; demo, bench and the rate
# commands start a throwaway server for the one not given.
Server = tuple[str, str]
KAFKA: Server = ("--bootstrap-servers", "KAFKA_BOOTSTRAP_SERVERS")
POSTGRES: Server = ("--database-url", "DATABASE_URL")
CONNECTS = {
    "audit": (KAFKA, POSTGRES),
    "bench": (KAFKA, POSTGRES),
    # It restarts the servers it shakes, so it always starts throwaway ones of its own.
    "chaos": (),
    "demo": (KAFKA, POSTGRES),
    "emulator": (POSTGRES,),
    "gateway": (KAFKA, POSTGRES),
    "ingest": (KAFKA, POSTGRES),
    "ingest-rate": (KAFKA, POSTGRES),
    "realtime-rate": (KAFKA, POSTGRES),
    "rebuild": (KAFKA, POSTGRES),
    "replay": (KAFKA, POSTGRES),
    "tail": (KAFKA, POSTGRES),
    "worker": (KAFKA, POSTGRES),
}
# An option stands for the setting named like it, with or without the command's name:
# --app-id for PULSE_APP_ID, the gateway's --host for PULSE_GATEWAY_HOST.
SETTING_PREFIXES = ("PULSE", "KAFKA", "SUPABASE")
# Options named like a setting that do not read it: the rebuild's app id and state are new ones,
# never the live workers'; the emulator checks tokens against a secret of its own.
NOT_SETTINGS = {
    "pulse rebuild --app-id",
    "pulse rebuild --data-dir",
    "pulse emulator --jwt-secret",
}
DEFAULT = re.compile(r"\(default: ([^()]*)\)$")
VARIABLE_DEFAULT = re.compile(r"^([A-Z][A-Z0-9_]+)(?: or (.+))?$")
LONGEST_HELP = 125
UNSET = "(unset)"

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
    vocabulary = VOCABULARY_TYPES.get(action.type)
    if vocabulary is not None and action.metavar != vocabulary:
        problems.append(f"accepts the words of {vocabulary}; use it as the placeholder")
    for word in VOCABULARIES.get(str(action.metavar), ()):
        if word not in text:
            problems.append(f"help does not name the accepted value {word!r}")
    if not action.required and not DEFAULT.search(text):
        problems.append("help does not end with (default: ...)")
    return problems


def setting_defaults() -> dict[str, str]:
    return {field.variable: field.default for field in [*settings_fields(), *faust_fields()]}


def setting_values(accepts: str) -> set[str] | None:
    """The values a setting accepts when they are a fixed set (``a | b``, or ``^(a|b)$``)."""
    pattern = re.fullmatch(r"text matching `\^\(([\w|-]+)\)\$`", accepts)
    if pattern:
        return set(pattern.group(1).split("|"))
    return set(accepts.split(" | ")) if " | " in accepts else None


def named_variable(action: argparse.Action) -> str | None:
    """The variable the help names as the default, as in ``(default: PULSE_APP_ID or ...)``."""
    match = DEFAULT.search(help_text(action)) if action.help else None
    named = VARIABLE_DEFAULT.match(match.group(1)) if match else None
    return named.group(1) if named else None


def setting_problems(name: str, action: argparse.Action, variables: set[str]) -> list[str]:
    """An option named like a setting (``--app-id``, ``PULSE_APP_ID``) must name it as default."""
    command, option = name.split()[1:]
    word, scope = (text.removeprefix("--").upper().replace("-", "_") for text in (option, command))
    names = {word} | {
        f"{prefix}_{part}{word}" for prefix in SETTING_PREFIXES for part in ("", f"{scope}_")
    }
    settings = names & variables
    if not settings or name in NOT_SETTINGS or named_variable(action) in settings:
        return []
    return [f"help does not name its variable as default, one of {sorted(settings)}"]


def connection_problems(
    command: argparse.ArgumentParser, connects: tuple[Server, ...]
) -> list[str]:
    """The command takes each server it connects to as an option, and no other server."""
    problems = []
    taken = command._option_string_actions  # noqa: SLF001
    for option, variable in (KAFKA, POSTGRES):
        action = taken.get(option)
        if (option, variable) not in connects:
            if action is not None:
                problems.append(f"takes {option} but does not connect to it")
        elif action is None:
            problems.append(f"connects to {variable} but has no {option}")
        elif named_variable(action) != variable:
            problems.append(f"{option}'s help does not name {variable} as its default")
    return problems


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
    # An unset variable has no value to repeat; the fallback says what the command does instead.
    if fallback is not None and defaults[variable] != UNSET:
        assert fallback == defaults[variable], (
            f"{name}: {variable} defaults to {defaults[variable]}"
        )


@pytest.mark.parametrize(("name", "action"), OPTIONS, ids=[name for name, _ in OPTIONS])
def test_an_option_for_a_setting_names_its_variable(name: str, action: argparse.Action) -> None:
    assert setting_problems(name, action, set(setting_defaults())) == [], name


@pytest.mark.parametrize(("name", "action"), OPTIONS, ids=[name for name, _ in OPTIONS])
def test_an_option_for_a_setting_offers_the_settings_values(
    name: str, action: argparse.Action
) -> None:
    accepts = {field.variable: field.accepts for field in [*settings_fields(), *faust_fields()]}
    variable = named_variable(action)
    values = setting_values(accepts[variable]) if variable in accepts else None
    if values is not None:
        assert set(action.choices or ()) == values, f"{name}: {variable} accepts {values}"


def test_the_values_of_a_setting_are_read_in_both_forms() -> None:
    assert setting_values("debug | info") == {"debug", "info"}
    assert setting_values("text matching `^(debug|info)$`") == {"debug", "info"}
    assert setting_values("integer, ≥ 1") is None


def test_every_command_says_what_it_connects_to() -> None:
    assert set(commands(PARSER)) == set(CONNECTS)


@pytest.mark.parametrize("name", sorted(CONNECTS))
def test_a_command_takes_the_servers_it_connects_to(name: str) -> None:
    assert connection_problems(commands(PARSER)[name], CONNECTS[name]) == [], f"pulse {name}"


@pytest.mark.parametrize("word", VOCABULARIES["POSITION"])
def test_every_listed_position_is_accepted(word: str) -> None:
    examples = {"offset:N": "offset:7", "time:ISO": "time:2026-11-23T21:00:00Z"}
    assert str(parse_position(examples.get(word, word))).startswith(word.split(":")[0])


def test_no_position_outside_the_list_is_accepted() -> None:
    for text in ("start", "latest", "now", "offset", "time:yesterday"):
        with pytest.raises(ValueError, match=r"expected|must"):
            parse_position(text)


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


@pytest.mark.parametrize(
    ("command", "option", "change", "problem"),
    [
        ("worker", "--database-url", None, "has no --database-url"),
        ("emulator", "--database-url", None, "has no --database-url"),
        ("tail", "--bootstrap-servers", None, "has no --bootstrap-servers"),
        ("tail", "--bootstrap-servers", "the brokers (default: none)", "does not name"),
    ],
)
def test_the_connection_rule_sees_a_break(
    command: str, option: str, change: str | None, problem: str
) -> None:
    parser = commands(build_parser())[command]
    actions = parser._option_string_actions  # noqa: SLF001
    if change is None:
        del actions[option]
    else:
        actions[option].help = change
    assert any(problem in found for found in connection_problems(parser, CONNECTS[command]))


def test_the_connection_rule_sees_a_server_the_command_does_not_use() -> None:
    assert connection_problems(commands(build_parser())["tail"], (KAFKA,)) == [
        "takes --database-url but does not connect to it"
    ]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("pulse worker --app-id", "consumer group and changelog prefix (default: realtime-pulse)"),
        ("pulse bench --partitions", "partitions of the topics (default: PULSE_APP_ID or 8)"),
    ],
)
def test_the_setting_rule_sees_a_break(name: str, text: str) -> None:
    action = next(action for found, action in options(build_parser()) if found == name)
    action.help = text
    assert setting_problems(name, action, set(setting_defaults()))


def test_the_vocabulary_rule_sees_a_break() -> None:
    start = next(action for name, action in options(build_parser()) if name == "pulse tail --from")
    start.metavar = "N"
    assert "accepts the words of POSITION; use it as the placeholder" in option_problems(start)
