"""How tests start ``pulse``: through the interpreter that runs them, so no path to an installed
script is assumed and the tests work from any environment."""

from __future__ import annotations

import sys

PULSE: tuple[str, ...] = (sys.executable, "-m", "workers.cli.main")
