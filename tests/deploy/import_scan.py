"""Which third-party modules the project's code imports, read from its source with ``ast``."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from pathlib import Path

PROJECT_PACKAGES = frozenset({"workers", "schemas", "tests"})


def imported_names(source: str, *, nested: bool) -> set[str]:
    """Absolute module names imported by ``source``; with ``nested`` also inside functions."""
    tree = ast.parse(source)
    nodes = ast.walk(tree) if nested else iter(tree.body)
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            # `from package import module` imports the module too.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def module_file(root: Path, module: str) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def is_third_party(name: str) -> bool:
    top = name.partition(".")[0]
    return top not in PROJECT_PACKAGES and top not in sys.stdlib_module_names


def third_party_reached(
    root: Path, eager: Iterable[str], full: Iterable[str]
) -> dict[str, set[str]]:
    """Third-party top-level modules reached from the given project modules, and from where.

    ``eager`` modules are followed through their module-level imports only (what importing them
    runs); ``full`` modules also through imports inside functions (what running them may run).
    Project modules reached either way are followed like the module that reached them.
    """
    reached: dict[str, set[str]] = {}
    seen: set[tuple[str, bool]] = set()
    pending = [(name, False) for name in eager] + [(name, True) for name in full]
    while pending:
        module, nested = pending.pop()
        if (module, nested) in seen:
            continue
        seen.add((module, nested))
        path = module_file(root, module)
        if path is None:
            continue
        for name in imported_names(path.read_text(), nested=nested):
            if is_third_party(name):
                reached.setdefault(name.partition(".")[0], set()).add(module)
                continue
            parts = name.split(".")
            # Importing a.b.c runs a/__init__.py and a/b/__init__.py first.
            pending.extend((".".join(parts[:end]), nested) for end in range(1, len(parts) + 1))
    return reached


def third_party_anywhere(paths: Iterable[Path]) -> dict[str, set[str]]:
    """Third-party top-level modules imported anywhere in the given files, and by which file."""
    found: dict[str, set[str]] = {}
    for path in paths:
        for name in imported_names(path.read_text(), nested=True):
            if is_third_party(name):
                found.setdefault(name.partition(".")[0], set()).add(str(path))
    return found
