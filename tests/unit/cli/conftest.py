"""Each command configures structlog for itself, as in a fresh process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def unconfigured_structlog() -> Iterator[None]:
    # A configuration left by an earlier test writes to that test's closed capture stream.
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()
