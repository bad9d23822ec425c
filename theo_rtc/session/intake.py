"""Client audio on its way in: queued without ever blocking the transport, bounded, and watched."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from theo_rtc.backends.types import AudioArray
from theo_rtc.observability import metrics
from theo_rtc.session.events import Emit

MAX_BACKLOG_S = 10.0


class AudioIntake:
    """The queue between a transport's frames and the session's processing loop."""

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._queue: asyncio.Queue[AudioArray | None] = asyncio.Queue()
        self._queued_samples = 0  # at the client's rate, not yet processed
        self._idle = asyncio.Event()
        self._idle.set()
        self._first_audio_at: float | None = None
        self._received_samples = 0
        self._dropped_samples = 0
        self._last_drop_notice = 0.0
        self._last_rate_notice = 0.0

    def put(self, samples: AudioArray, rate: int) -> None:
        """Queue ``samples`` (at ``rate``). Never blocks; drops past a 10 s backlog."""
        now = time.monotonic()
        if self._queued_samples + len(samples) > MAX_BACKLOG_S * rate:
            self._dropped_samples += len(samples)
            metrics.stt_frames_dropped_total.inc()
            if now - self._last_drop_notice > 1.0:
                self._last_drop_notice = now
                self._emit(
                    "session.frames_dropped",
                    dropped_ms=round(self._dropped_samples * 1000 / rate),
                    backlog_ms=round(self._queued_samples * 1000 / rate),
                )
            return
        if self._first_audio_at is None:
            self._first_audio_at = now
        self._received_samples += len(samples)
        self._check_rate(now, rate)
        self._queued_samples += len(samples)
        self._idle.clear()
        self._queue.put_nowait(samples)

    async def drained(self) -> None:
        """Wait until every queued frame has been processed."""
        await self._idle.wait()

    async def run(self, process: Callable[[AudioArray], Awaitable[None]]) -> None:
        """Hand the queued frames to ``process``, in order, for as long as the session runs (the next
        frames wait while ``process`` awaits: a turn judgement sees exactly the audio before it)."""
        while True:
            samples = await self._queue.get()
            if samples is None:
                break
            try:
                await process(samples)
            finally:
                self._queued_samples -= len(samples)
                if not self._queued_samples:
                    self._idle.set()
            await asyncio.sleep(0)  # let events and the worker stream interleave with bursts

    def _check_rate(self, now: float, rate: int) -> None:
        assert self._first_audio_at is not None
        elapsed = now - self._first_audio_at
        received_s = self._received_samples / rate
        if received_s > 2.0 + elapsed * 1.5 and now - self._last_rate_notice > 5.0:
            self._last_rate_notice = now
            self._emit(
                "session.rate_limit",
                received_ms=round(received_s * 1000),
                elapsed_ms=round(elapsed * 1000),
                message="audio arrives faster than real time; it is processed, latency may grow",
            )
