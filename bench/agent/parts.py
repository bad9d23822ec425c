"""The bench's parts: a stamped event output, a sink that keeps when audio began and was cleared, a
real-time microphone, CPU of this process and its workers."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import deque
from typing import Any

import numpy as np
import psutil

from theo_rtc.transports import Call
from theo_rtc.transports.sink import WebSocketAudioSink

FRAME = 640  # 20 ms of 16 kHz PCM16


class Stamped:
    """A CallOutput keeping each event with the time it reached the transport."""

    def __init__(self) -> None:
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.overflowed = asyncio.Event()
        self.arrived = asyncio.Event()

    async def send_event(self, event: dict[str, Any]) -> None:
        self.events.append((time.monotonic(), event))
        self.arrived.set()

    def send_raw(self, message: dict[str, Any]) -> None:
        self.events.append((time.monotonic(), message))
        self.arrived.set()

    async def state_after(self, since: float, state: str, within_s: float = 120) -> float:
        async with asyncio.timeout(within_s):
            while not (found := [t for t, e in self.after(since, "agent.state") if e["state"] == state]):
                self.arrived.clear()
                await self.arrived.wait()
        return found[0]

    def after(self, since: float, kind: str) -> list[tuple[float, dict[str, Any]]]:
        return [(t, e) for t, e in self.events if t >= since and e["type"] == kind]

    async def first_after(
        self, since: float, kind: str, within_s: float = 120
    ) -> tuple[float, dict[str, Any]]:
        async with asyncio.timeout(within_s):
            while not (found := self.after(since, kind)):
                self.arrived.clear()
                await self.arrived.wait()
        return found[0]


class TimedSink(WebSocketAudioSink):
    """The WebSocket's estimated playout; keeps when each utterance's audio began and when one was cleared."""

    def __init__(self) -> None:
        super().__init__(self)
        self.begins: list[float] = []
        self.clears: list[float] = []

    async def send_audio(self, pcm16: bytes, sample_rate: int) -> None:
        pass  # the client's socket: audio leaves here

    def _on_begin(self) -> None:
        super()._on_begin()
        self.begins.append(time.monotonic())

    def _drop_queued(self) -> None:
        super()._drop_queued()
        self.clears.append(time.monotonic())


class Microphone:
    """Streams frames in real time (silence when nothing is said); ``say`` returns when the speech's first
    and last voiced frames were pushed."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self._frames: deque[tuple[bytes, asyncio.Future[float] | None]] = deque()
        self._task = asyncio.create_task(self._run())

    def say(self, audio: bytes) -> tuple[asyncio.Future[float], asyncio.Future[float]]:
        loop = asyncio.get_running_loop()
        start, end = loop.create_future(), loop.create_future()
        first, last = voiced_span(audio)
        frames = [audio[i : i + FRAME] for i in range(0, len(audio), FRAME)]
        for index, frame in enumerate(frames):
            marker = start if index == first // FRAME else end if index == last // FRAME else None
            self._frames.append((frame, marker))
        return start, end

    async def _run(self) -> None:
        silence = bytes(FRAME)
        due = time.monotonic()
        while True:
            frame, marker = self._frames.popleft() if self._frames else (silence, None)
            self.call.push_pcm16(frame, max_frame=65536)
            if marker is not None:
                marker.set_result(time.monotonic())
            due += 0.02
            await asyncio.sleep(max(due - time.monotonic(), 0))

    async def aclose(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def voiced_span(audio: bytes) -> tuple[int, int]:
    """Byte offsets of the first and last 20 ms frame above -40 dBFS RMS."""
    samples = np.frombuffer(audio, dtype=np.int16).astype(np.float32)
    frames = samples[: len(samples) // 320 * 320].reshape(-1, 320)
    loud = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > 328)
    return int(loud[0]) * FRAME, int(loud[-1]) * FRAME


def cpu_seconds() -> dict[str, float]:
    me = psutil.Process()
    totals = {"theo": 0.0, "workers": 0.0, "llm": 0.0}
    for process in [me, *me.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            kind = "theo" if process.pid == me.pid else "workers"
            if kind == "workers" and any("llm_worker" in part for part in process.cmdline()):
                kind = "llm"
            totals[kind] += times.user + times.system
    return totals


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"n": len(values), "p50": statistics.median(values), "p95": p95}
