"""Argument types shared by the ``pulse`` subcommands."""

from __future__ import annotations

import argparse
from typing import Any


def positive(kind: type[int] | type[float]) -> Any:
    """An argparse ``type`` that reads ``kind`` and refuses zero and negative values."""

    def parse(text: str) -> int | float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
        return value

    return parse
