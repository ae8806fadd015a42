"""The list of metrics in ``docs/operations.md``, generated from ``metrics.py``.

python -m workers.observability.metrics_table            # print the Markdown table
python -m workers.observability.metrics_table --write    # update docs/operations.md in place
"""

from __future__ import annotations

import argparse
import sys

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from workers.docs_blocks import DOCS, write_block
from workers.observability import metrics

BLOCK = "metrics-table"
DOCUMENT = DOCS / "operations.md"
_KINDS: dict[type[MetricWrapperBase], tuple[str, str]] = {
    Counter: ("counter", "_total"),
    Gauge: ("gauge", ""),
    Histogram: ("histogram", ""),
}


def project_metrics() -> list[MetricWrapperBase]:
    found = [value for value in vars(metrics).values() if isinstance(value, MetricWrapperBase)]
    return sorted(found, key=metric_name)


def metric_name(metric: MetricWrapperBase) -> str:
    name: str = next(iter(metric.describe())).name
    return name


def label_names(metric: MetricWrapperBase) -> tuple[str, ...]:
    # prometheus_client has no public accessor for the label names a metric was declared with.
    names: tuple[str, ...] = metric._labelnames  # noqa: SLF001
    return names


def render_table(found: list[MetricWrapperBase]) -> str:
    lines = ["| Metric | Type | Labels | Meaning |", "|---|---|---|---|"]
    for metric in found:
        kind, suffix = _KINDS[type(metric)]
        labels = ", ".join(f"`{label}`" for label in label_names(metric)) or "—"
        description = next(iter(metric.describe())).documentation
        lines.append(f"| `{metric_name(metric)}{suffix}` | {kind} | {labels} | {description} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workers.observability.metrics_table", description=__doc__
    )
    parser.add_argument("--write", action="store_true", help="update docs/operations.md in place")
    args = parser.parse_args(argv)
    table = render_table(project_metrics())
    if args.write:
        write_block(BLOCK, table, DOCUMENT)
    else:
        sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
