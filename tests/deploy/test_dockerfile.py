"""The image: multi-stage, locked runtime dependencies only, pinned base, health check, labels."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.dockerfile import Dockerfile, Stage, parse

ROOT = Path(__file__).resolve().parents[2]
COMPILERS = ("gcc", "g++", "build-essential", "clang", "make", "cargo", "rustc")


@pytest.fixture(scope="module")
def image() -> Dockerfile:
    return parse()


@pytest.fixture(scope="module")
def runtime(image: Dockerfile) -> Stage:
    return image.stages[-1]


def test_multi_stage(image: Dockerfile) -> None:
    assert len(image.stages) >= 2
    assert image.stages[-1].name == "runtime"


def test_every_stage_uses_a_base_pinned_to_a_patch_version(image: Dockerfile) -> None:
    minimum = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    for stage in image.stages:
        found = re.fullmatch(r"python:(\d+)\.(\d+)\.(\d+)-slim-[a-z]+", stage.base)
        assert found, f"stage {stage.name}: {stage.base} is not pinned to a patch version"
        assert f">={found.group(1)}.{found.group(2)}" == minimum


def test_dependencies_come_from_the_runtime_lock_as_wheels(image: Dockerfile) -> None:
    build = image.stages[0]
    installs = " ".join(build.arguments("RUN"))
    assert "--require-hashes --only-binary=:all: -r requirements/runtime.txt" in installs
    assert "--require-hashes -r requirements/build.txt" in installs
    # The project itself brings nothing unlocked.
    for command in re.findall(r"pip install [^&]*", installs):
        assert "--require-hashes" in command or "--no-deps" in command, command


def test_runtime_stage_copies_the_environment_and_installs_no_tools(runtime: Stage) -> None:
    copies = runtime.arguments("COPY")
    assert copies == ["--from=build /opt/pulse /opt/pulse"]
    commands = " ".join(runtime.arguments("RUN"))
    assert "pip install" not in commands
    installed = re.findall(r"apt-get install (?:-\S+ )*([^&]+)", commands)
    packages = {word for group in installed for word in group.split() if not word.startswith("-")}
    assert packages == {"tini"}
    assert not packages & set(COMPILERS)


def test_build_tools_leave_the_runtime_environment(image: Dockerfile) -> None:
    commands = " ".join(image.stages[0].arguments("RUN"))
    assert "/opt/pulse/bin/pip uninstall --yes setuptools pip" in commands
    assert "/opt/build/bin/pip wheel" in commands, "the wheel is built outside /opt/pulse"


def test_health_check_is_the_project_probe(runtime: Stage) -> None:
    (check,) = runtime.arguments("HEALTHCHECK")
    options, _, command = check.partition("CMD ")
    assert "--start-period=" in options
    argv = yaml.safe_load(command)
    assert argv[:2] == ["python", "-m"]
    assert importlib.util.find_spec(argv[2]) is not None
    compose: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["x-pulse-image"]["healthcheck"]["test"] == ["CMD", *argv]


def test_oci_labels(runtime: Stage) -> None:
    labels = " ".join(runtime.arguments("LABEL"))
    for key in ("title", "description", "version", "revision", "base.name"):
        assert f"org.opencontainers.image.{key}=" in labels, key


def test_pid_one_is_tini_running_pulse(image: Dockerfile) -> None:
    assert image.exec_form("ENTRYPOINT") == ["tini", "--", "pulse"]
    assert image.exec_form("CMD") == ["--help"]
    assert image.stages[-1].arguments("STOPSIGNAL") == ["SIGTERM"]


def test_parser_joins_continuations() -> None:
    parsed = parse("ARG B=python:3.11.1-slim-x\nFROM ${B} AS one\n# note\nRUN a \\\n    && b\n")
    (stage,) = parsed.stages
    assert (stage.base, stage.name) == ("python:3.11.1-slim-x", "one")
    assert stage.arguments("RUN") == ["a && b"]
