"""The modules of ``workers.stream.rules`` stay pure: none of them, nor what they import, loads an
I/O library. Each is imported in a fresh interpreter, so modules other tests loaded do not count."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import workers.stream.rules as rules

# Kafka and Faust clients, Postgres drivers, the state store, HTTP and websocket clients, and the
# standard library's event loop. Not ``socket``: pydantic loads it through ``email.utils``.
IO_LIBRARIES = frozenset(
    {
        "aiokafka",
        "asyncio",
        "faust",
        "httpx",
        "mode",
        "postgrest",
        "psycopg",
        "psycopg2",
        "realtime",
        "rocksdict",
        "supabase",
        "websockets",
    }
)

MODULES = sorted(f"{rules.__name__}.{m.name}" for m in pkgutil.iter_modules(rules.__path__))

PROBE = (
    "import importlib, json, sys; importlib.import_module(sys.argv[1]); "
    "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))"
)


def loaded_packages(module: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, module], capture_output=True, text=True, check=True
    )
    return set(json.loads(result.stdout))


def test_the_rules_package_has_modules() -> None:
    assert len(MODULES) >= 10


@pytest.mark.parametrize("module", MODULES)
def test_a_rule_module_loads_no_io_library(module: str) -> None:
    assert loaded_packages(module) & IO_LIBRARIES == set()


def test_the_probe_sees_an_io_library() -> None:
    assert "faust" in loaded_packages("workers.stream.app")
