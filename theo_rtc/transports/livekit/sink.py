"""Theo's voice in a LiveKit room: one published track fed from an ``rtc.AudioSource``.

The source keeps its own playout queue: ``clear_queue()`` drops what has not been sent and
``wait_for_playout()`` returns once the queue has drained, so playout is observed, not guessed. The
queue plays in order at real time, so each frame's play time is known when it is queued: now plus what is
queued ahead of it. Playout taps get each frame with that time, and are told when a clear drops the rest.
"""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np
from livekit import rtc

from theo_rtc.preprocessing import PCM16Resampler
from theo_rtc.transports.sink import AudioSink

__all__ = ["RoomAudioSink"]

RATE = 48_000  # Opus's native rate: what the source publishes
FRAME = RATE // 50  # 20 ms per captured frame


class RoomAudioSink(AudioSink):
    taps_playout = True

    def __init__(self, source: rtc.AudioSource) -> None:
        super().__init__()
        self.source = source
        self._resampler = PCM16Resampler(RATE)
        self._pending = np.zeros(0, np.int16)  # less than one frame, carried to the next capture
        self._playout: asyncio.Task[None] | None = None

    @classmethod
    def create(cls, *, queue_ms: int = 400) -> RoomAudioSink:
        # A short queue: a barge-in or tts.cancel drops at most this much already-sent audio.
        return cls(rtc.AudioSource(RATE, 1, queue_size_ms=queue_ms))

    async def _write(self, pcm16: bytes, sample_rate: int) -> None:
        samples = self._resampler.process(pcm16, sample_rate)
        await self._send(np.concatenate([self._pending, samples]), final=False)

    async def _send(self, samples: np.ndarray, *, final: bool) -> None:
        whole = len(samples) if final else len(samples) // FRAME * FRAME
        self._pending = samples[whole:]
        for start in range(0, whole, FRAME):
            chunk = samples[start : start + FRAME]
            frame = rtc.AudioFrame(chunk.tobytes(), RATE, 1, len(chunk))
            if self._taps:  # it plays once what is queued ahead of it has
                self._tap_played(chunk, RATE, self.clock() + self.source.queued_duration)
            await self.source.capture_frame(frame)

    def _on_flush(self) -> None:
        self._playout = asyncio.create_task(self._finish_playout())

    async def _finish_playout(self) -> None:
        await self._send(np.concatenate([self._pending, self._resampler.flush()]), final=True)
        await self.source.wait_for_playout()
        self._playout_done()

    def _drop_queued(self) -> None:
        self.source.clear_queue()
        self._tap_dropped(self.clock())
        self._pending = np.zeros(0, np.int16)
        self._resampler.reset()
        if self._playout is not None:
            self._playout.cancel()
            self._playout = None

    def _played_s(self) -> float:
        return self._captured_s - self.source.queued_duration - len(self._pending) / RATE

    async def aclose(self) -> None:
        if self._playout is not None:
            self._playout.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._playout
        await self.source.aclose()
