"""Helpers backends use to turn per-sentence synthesis into an async PCM16 chunk stream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

import numpy as np
import numpy.typing as npt

from theo_rtc.backends.types import AudioChunk

# OpenAI accepts 0.25-4.0; engines accept narrower ranges and clamp to their own.
MIN_SPEED = 0.25
MAX_SPEED = 4.0


def float_to_pcm16(audio: npt.NDArray[np.floating]) -> bytes:
    """Float samples in [-1, 1] to PCM16 little-endian bytes (clipped, not wrapped)."""
    scaled = np.clip(np.asarray(audio, dtype=np.float32).ravel(), -1.0, 1.0) * 32767.0
    return np.round(scaled).astype("<i2").tobytes()


def clamp_speed(speed: float, lo: float, hi: float) -> float:
    if not np.isfinite(speed) or speed <= 0:
        return 1.0
    return float(min(max(speed, lo), hi))


async def stream_pieces(
    pieces: Sequence[str],
    render: Callable[[str], bytes],
    sample_rate: int,
    *,
    pause_seconds: float = 0.0,
) -> AsyncIterator[AudioChunk]:
    """Synthesize ``pieces`` one by one in a worker thread, yielding one chunk per piece.

    The next piece starts rendering while the current chunk is being consumed (one piece ahead,
    never more, so memory stays bounded and abandoning the stream wastes at most one piece).
    ``render`` returns PCM16 bytes; empty results are skipped. ``pause_seconds`` of silence are
    appended to every chunk but the last, for engines that trim sentence-final silence.
    """
    pause = bytes(2 * round(pause_seconds * sample_rate))

    def start(i: int) -> asyncio.Task[bytes]:
        return asyncio.create_task(asyncio.to_thread(render, pieces[i]))

    pending: asyncio.Task[bytes] | None = start(0) if pieces else None
    try:
        for i in range(len(pieces)):
            assert pending is not None
            pcm = await pending
            pending = start(i + 1) if i + 1 < len(pieces) else None
            if not pcm:
                continue
            if pending is not None and pause:
                pcm += pause
            yield AudioChunk(pcm16=pcm, sample_rate=sample_rate)
    finally:
        # Consumer went away (client disconnect) or an error: drop the look-ahead piece. Its thread
        # finishes on its own; nothing else is started.
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending
