"""``pulse realtime-rate``'s measurement on the test services: it counts every committed row."""

from __future__ import annotations

import pytest

from tests.integration.ingest.realtime.harness import topic_changes
from workers.bench.realtime_rate import SITES, measure_realtime_rate
from workers.settings import KafkaSettings

pytestmark = pytest.mark.integration


async def test_rate_covers_every_row_until_acknowledged(
    fresh_db: str, kafka_settings: KafkaSettings
) -> None:
    result = await measure_realtime_rate(fresh_db, kafka_settings, 300)
    assert result.rows == 300 + SITES and result.seconds > 0
    changes = await topic_changes(kafka_settings, min_changes=result.rows)
    assert sum(1 for c in changes if c.table == "events" and c.source == "realtime") == 300
