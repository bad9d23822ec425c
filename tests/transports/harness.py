"""In-process parts for tests of a Call: an output that keeps every event, and a sink whose listener hears
audio only when the test says so (observed playout, driven explicitly: nothing depends on machine speed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from theo_rtc.transports import AudioSink

__all__ = ["Events", "ListenerSink"]


class Events:
    """A CallOutput that keeps every event (typed and raw) in the order the transport got them."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.overflowed = asyncio.Event()
        self.arrived = asyncio.Event()

    async def send_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        self.arrived.set()

    def send_raw(self, message: dict[str, Any]) -> None:
        self.events.append(json.loads(json.dumps(message)))
        self.arrived.set()

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    async def wait_for(self, kind: str, count: int = 1) -> dict[str, Any]:
        async with asyncio.timeout(120):
            while len(self.of(kind)) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.of(kind)[count - 1]


class ListenerSink(AudioSink):
    """A sink whose listener hears audio only when the test calls :meth:`play` (observed playout)."""

    def __init__(self, events: Events) -> None:
        super().__init__()
        self.queued_s = 0.0
        self.heard_s = 0.0
        self._events = events
        self.events_before_first_audio: list[str] | None = None
        self.changed = asyncio.Event()

    async def until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(120):
            while not condition():
                self.changed.clear()
                await self.changed.wait()

    async def _write(self, pcm16: bytes, sample_rate: int) -> None:
        if self.events_before_first_audio is None:
            self.events_before_first_audio = [e["type"] for e in self._events.events]
        self.queued_s += len(pcm16) / 2 / sample_rate
        self.changed.set()

    def play(self, seconds: float) -> None:
        step = min(seconds, self.queued_s)
        self.queued_s -= step
        self.heard_s += step
        if self.queued_s <= 1e-9:
            self._playout_done()

    def _on_begin(self) -> None:
        self.heard_s = 0.0

    def _on_flush(self) -> None:
        self.changed.set()
        if self.queued_s <= 1e-9:
            self._playout_done()

    def _drop_queued(self) -> None:
        self.queued_s = 0.0

    def _played_s(self) -> float:
        return self.heard_s
