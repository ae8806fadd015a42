"""Generated blocks of the README and the documents under ``docs/``, each between
``<!-- NAME:start -->`` and ``<!-- NAME:end -->``."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def read_block(document: str, name: str) -> str:
    start_marker, end_marker = markers(name)
    start = document.find(start_marker)
    end = document.find(end_marker)
    if start < 0 or end < start:
        raise ValueError(f"the document has no {start_marker} ... {end_marker} block")
    return document[start + len(start_marker) : end].removeprefix("\n")


def replace_block(document: str, name: str, content: str) -> str:
    read_block(document, name)
    start_marker, end_marker = markers(name)
    head = document[: document.find(start_marker) + len(start_marker)]
    return f"{head}\n{content}{document[document.find(end_marker) :]}"


def write_block(name: str, content: str, path: Path = README) -> None:
    path.write_text(replace_block(path.read_text(encoding="utf-8"), name, content))
