"""The generated tables of the README and docs/operations.md match the code they describe."""

from __future__ import annotations

from workers.cli import exit_status
from workers.docs_blocks import README, read_block
from workers.observability import metrics_table
from workers.settings_catalog import settings_fields
from workers.settings_table import BLOCK as SETTINGS_BLOCK
from workers.settings_table import render_table as render_settings


def test_settings_table_is_current() -> None:
    expected = render_settings(settings_fields())
    assert read_block(README.read_text(encoding="utf-8"), SETTINGS_BLOCK) == expected, (
        "README configuration table is stale: run `python -m workers.settings_table --write`"
    )


def test_metrics_table_is_current() -> None:
    expected = metrics_table.render_table(metrics_table.project_metrics())
    document = metrics_table.DOCUMENT.read_text(encoding="utf-8")
    assert read_block(document, metrics_table.BLOCK) == expected, (
        "docs/operations.md metrics table is stale: "
        "run `python -m workers.observability.metrics_table --write`"
    )


def test_exit_status_table_is_current() -> None:
    assert read_block(README.read_text(encoding="utf-8"), exit_status.BLOCK) == (
        exit_status.render_table()
    ), "README exit status table is stale: run `python -m workers.cli.exit_status --write`"


def test_every_setting_and_metric_is_listed() -> None:
    readme = README.read_text(encoding="utf-8")
    for field in settings_fields():
        assert f"`{field.variable}`" in readme
    operations = metrics_table.DOCUMENT.read_text(encoding="utf-8")
    for metric in metrics_table.project_metrics():
        assert metrics_table.metric_name(metric) in operations
