"""``StreamRunner.refresh_charts`` publishes a ``chart_refresh`` per changed (site, day)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson
from aiokafka.structs import TopicPartition

from schemas.updates import ChartRefresh
from workers.settings import KafkaSettings
from workers.stream.agents import StreamRunner
from workers.stream.processing import DAYS
from workers.stream.rules.kpis import CALLS, DayAggregate
from workers.stream.settings import StreamSettings

KAFKA = KafkaSettings(KAFKA_BOOTSTRAP_SERVERS="unused:9092")


class FakeCheckpoint:
    def __init__(self) -> None:
        self.claimed = {0}
        self.commits: list[dict[tuple[str, int], list[tuple[bytes, bytes]]]] = []

    async def commit(self, partition: int, outputs: Any, writes: Any, offset: Any) -> None:
        self.commits.append(outputs)


class DaysState:
    def __init__(self, days: dict[bytes, bytes]) -> None:
        self.days = days

    def get(self, table: str, partition: int, key: bytes) -> bytes | None:
        assert (table, partition) == (DAYS, 0)
        return self.days.get(key)


async def test_a_changed_day_gets_its_chart() -> None:
    day = DayAggregate()
    day.add(96, CALLS, 1)
    checkpoint = FakeCheckpoint()
    app = SimpleNamespace(
        rebalancing=False,
        recovered_generation=3,
        assignor=SimpleNamespace(assigned_actives=lambda: {TopicPartition(KAFKA.changes_topic, 0)}),
    )
    runner = StreamRunner(
        app,  # type: ignore[arg-type]
        DaysState({b"site-a|2026-11-23": orjson.dumps(day.to_json())}),  # type: ignore[arg-type]
        checkpoint,  # type: ignore[arg-type]
        KAFKA,
        StreamSettings(),
        lookup=None,  # type: ignore[arg-type]
    )
    runner.dirty_days = {(0, "site-a", "2026-11-23"), (3, "site-b", "2026-11-23")}
    runner.generation = 3
    await runner.refresh_charts()
    (outputs,) = checkpoint.commits
    ((topic, _partition), records), *others = outputs.items()
    assert topic == KAFKA.updates_topic and not others
    ((key, value),) = records
    chart = ChartRefresh.model_validate_json(value)
    assert key == b"site-a" and chart.site_id == "site-a"
    assert [(b.start.hour, b.calls) for b in chart.buckets] == [(8, 1)]
