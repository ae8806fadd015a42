"""Which rejects a delivery still owes, sending them again without counting them twice, and how
long the producer's sends may wait."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaTimeoutError
from prometheus_client import REGISTRY
from pydantic import ValidationError

from schemas.changes import RejectedRecord
from workers.changes.keying import Rejection
from workers.ingest.publisher import ChangePublisher, Delivery, make_producer
from workers.ingest.settings import (
    DEFAULT_SEND_TIMEOUT_S,
    RealtimeIngestSettings,
    WalIngestSettings,
)
from workers.settings import KafkaSettings


def reject(detail: str) -> RejectedRecord:
    return RejectedRecord(reason="no_site", detail=detail, stage="ingest", table="calls")


class RecordingProducer:
    """Hands out a pending future per send; the test settles them."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, asyncio.Future[Any]]] = []

    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.sent.append((topic, value, future))
        return future


def ingest_rejects() -> float:
    labels = {"stage": "ingest", "reason": "no_site"}
    return REGISTRY.get_sample_value("pulse_rejects_total", labels) or 0.0


async def test_a_reject_is_owed_until_its_own_send_is_acknowledged() -> None:
    loop = asyncio.get_running_loop()
    acked, failed, waiting, cancelled = (loop.create_future() for _ in range(4))
    acked.set_result(None)
    failed.set_exception(KafkaTimeoutError())
    cancelled.cancel()
    records = [reject(name) for name in ("acked", "failed", "waiting", "cancelled")]
    futures: list[asyncio.Future[Any]] = [acked, failed, waiting, cancelled]
    delivery = Delivery(futures, 0, list(zip(records, futures, strict=True)))
    assert delivery.rejected == 4
    assert [r.detail for r in delivery.unacknowledged_rejects()] == [
        "failed",
        "waiting",
        "cancelled",
    ]


async def test_rejects_sent_again_are_the_same_records_and_counted_once() -> None:
    producer = RecordingProducer()
    settings = KafkaSettings()
    publisher = ChangePublisher(cast(AIOKafkaProducer, producer), settings)
    counted = ingest_rejects()
    publisher.reject(Rejection("no_site", "first", "calls", {"op": "INSERT"}))
    publisher.reject(Rejection("no_site", "second", "calls", {"op": "DELETE"}))
    first = await publisher.publish()
    assert ingest_rejects() == counted + 2
    producer.sent[0][2].set_result(None)
    producer.sent[1][2].set_exception(KafkaTimeoutError())

    publisher.resend(first.unacknowledged_rejects())
    assert publisher.buffered == 1
    again = await publisher.publish()
    assert ingest_rejects() == counted + 2
    assert [record.detail for record, _ in again.rejects] == ["second"]
    assert producer.sent[2][:2] == (settings.rejected_topic, producer.sent[1][1])


async def test_either_sources_send_timeout_is_its_producers_request_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PULSE_INGEST_SEND_TIMEOUT_S", "2.5")
    for options in (WalIngestSettings(), RealtimeIngestSettings()):
        producer = make_producer("127.0.0.1:9", options.send_timeout_s)
        try:
            # aiokafka has no public view of a producer's settings.
            assert producer._request_timeout_ms == 2500  # noqa: SLF001
        finally:
            await producer.stop()


def test_the_default_send_timeout_is_aiokafkas_own() -> None:
    default = inspect.signature(AIOKafkaProducer).parameters["request_timeout_ms"].default
    assert default == DEFAULT_SEND_TIMEOUT_S * 1000


@pytest.mark.parametrize("seconds", [0, -1])
def test_a_send_timeout_must_be_positive(seconds: float) -> None:
    with pytest.raises(ValidationError, match="PULSE_INGEST_SEND_TIMEOUT_S"):
        WalIngestSettings(PULSE_INGEST_SEND_TIMEOUT_S=seconds)
