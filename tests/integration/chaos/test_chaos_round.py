"""A short seeded ``pulse chaos`` round, as ``make test`` runs it: every fault the seed draws is
injected into the real pipeline (throwaway PostgreSQL and Apache Kafka, the ingest, two workers,
the gateway), each converges with nothing lost or double counted, the audit matches, and nothing
is left behind.

The command runs with its own ``TMPDIR``, so every temp directory it makes lands there, and every
process it starts inherits that ``TMPDIR``: after it exits, the directory must be empty and no
process may carry that environment.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import pytest

from tests.cli_command import PULSE
from tests.integration.demo.test_demo_end_to_end import processes_with_env
from workers.chaos.plan import FAULT_KINDS, fault_sequence
from workers.chaos.report import COLUMNS

pytestmark = pytest.mark.integration

SEED = 7
DURATION_S = 60
RUN_TIMEOUT_S = 900


@pytest.fixture
def chaos_tmpdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pulse-chaos-test-"))
    # Postgres runs as the postgres user when the tests run as root: it must reach its datadir.
    path.chmod(0o755)
    try:
        yield path
    finally:
        subprocess.run(["rm", "-rf", str(path)], check=False)


def table_rows(output: str) -> list[dict[str, str]]:
    """The report's per-fault rows, by column name."""
    header = "| " + " | ".join(COLUMNS)
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if re.sub(r" +", " ", line).startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows.append(dict(zip(COLUMNS, cells, strict=True)))
    return rows


def test_a_seeded_round_of_faults_loses_and_double_counts_nothing(chaos_tmpdir: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    env |= {"TMPDIR": str(chaos_tmpdir), "COLUMNS": "200"}
    done = subprocess.run(
        [*PULSE, "chaos", "--seed", str(SEED), "--duration", str(DURATION_S)],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output

    rows = table_rows(output)
    assert len(rows) >= 2, output
    drawn = [fault.label for fault in islice(fault_sequence(SEED, FAULT_KINDS), len(rows))]
    assert [row["fault"] for row in rows] == drawn, output
    for row in rows:
        assert f"{row['fault']}: " in output, f"no progress line for {row['fault']}"
        assert row["converged (s)"] != "no", row
        assert int(row["consumed"]) > 0, row
        assert int(row["rejected"]) > 0, row
        assert (row["lost"], row["double counted"]) == ("0", "0"), row
    assert "audit: every KPI, call and intent equals SQL" in output, output
    assert "result: nothing lost, nothing double counted (exit 0)" in output, output

    assert processes_with_env(f"TMPDIR={chaos_tmpdir}") == []
    assert list(chaos_tmpdir.iterdir()) == []
