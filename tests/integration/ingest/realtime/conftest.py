"""An emulator per test, on the test's own database, with JWT checks on (HS256, a fixed secret)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from workers.emulator.config import EmulatorConfig
from workers.emulator.control import EmulatorControl
from workers.emulator.server import Emulator
from workers.emulator.tokens import mint_token

JWT_SECRET = "pulse-emulator-test-secret-0123456789abcdef"


@dataclass
class RunningEmulator:
    emulator: Emulator
    control: EmulatorControl
    service_key: str
    dsn: str

    @property
    def url(self) -> str:
        return self.emulator.url

    @property
    def realtime_url(self) -> str:
        return f"{self.emulator.url}/realtime/v1"


@pytest.fixture
async def emulator(fresh_db: str) -> AsyncIterator[RunningEmulator]:
    instance = Emulator(EmulatorConfig(dsn=fresh_db, jwt_secret=JWT_SECRET, poll_interval_ms=50))
    await instance.start()
    control = EmulatorControl(instance.url)
    try:
        yield RunningEmulator(instance, control, mint_token(JWT_SECRET), fresh_db)
    finally:
        await control.close()
        await instance.stop()
