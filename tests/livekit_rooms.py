"""A fixture for tests with livekit.rtc participants in this process (tests/livekit, tests/sip)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
async def _rooms_left_at_teardown(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """Every ``rtc.Room`` a test connects leaves when the test ends, passed or failed: a participant left
    behind keeps decoding audio in this process and slows every test after it."""
    from livekit import rtc

    rooms: list[rtc.Room] = []
    connect = rtc.Room.connect

    async def tracked(self: rtc.Room, *args: Any, **kwargs: Any) -> None:
        rooms.append(self)
        await connect(self, *args, **kwargs)

    monkeypatch.setattr(rtc.Room, "connect", tracked)
    yield
    for room in rooms:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(room.disconnect(), 10)
