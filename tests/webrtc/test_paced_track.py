"""The outgoing track: real-time pacing, a bounded queue that throttles the writer, no catch-up burst
after a stall, flush for tts.cancel. A generated tone stands in for TTS audio."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError

from theo_rtc.transports.webrtc.tracks import FRAME, RATE, PacedAudioTrack


def tone(seconds: float, rate: int = 24_000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 440 * t) * 0.5 * 32767).astype("<i2").tobytes()


async def test_recv_is_paced_to_real_time_and_carries_the_audio() -> None:
    track = PacedAudioTrack(buffer_ms=2000)
    await track.write(tone(0.5), 24_000)  # resampled to 48 kHz
    started = time.monotonic()
    frames = [await track.recv() for _ in range(50)]
    elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 1.2, elapsed  # 50 × 20 ms
    assert [f.pts for f in frames] == [i * FRAME for i in range(50)]
    assert all(f.sample_rate == RATE and f.samples == FRAME for f in frames)
    rms = [float(np.sqrt(np.mean((f.to_ndarray().astype(np.float32) / 32768) ** 2))) for f in frames]
    assert min(rms[:24]) > 0.3 and max(rms[26:]) == 0.0  # 0.5 s of tone, then silence
    assert track.audio_frames_sent in (25, 26)
    track.stop()
    with pytest.raises(MediaStreamError):
        await track.recv()


async def test_writer_is_throttled_by_the_queue_cap() -> None:
    track = PacedAudioTrack(buffer_ms=200)
    writer = asyncio.create_task(track.write(tone(1.0, RATE), RATE))
    await asyncio.sleep(0.05)
    assert not writer.done() and track.queued_ms == 1000  # all queued, writer waits for room
    started = time.monotonic()
    while not writer.done():
        await track.recv()
    assert track.queued_ms <= 200
    assert 0.7 < time.monotonic() - started < 1.0  # released once ≤ 200 ms is left
    track.flush()  # tts.cancel: what is queued is dropped at once
    assert track.queued_ms == 0
    track.stop()


async def test_stopping_releases_a_blocked_writer() -> None:
    track = PacedAudioTrack(buffer_ms=100)
    writer = asyncio.create_task(track.write(tone(1.0, RATE), RATE))
    await asyncio.sleep(0.02)
    track.stop()
    await asyncio.wait_for(writer, 1)


async def test_a_stall_does_not_turn_into_added_latency() -> None:
    track = PacedAudioTrack()
    await track.recv()
    await track.recv()
    time.sleep(0.5)  # the event loop stalls for 500 ms  # noqa: ASYNC251
    started = time.monotonic()
    late = await track.recv()
    after = [await track.recv() for _ in range(5)]
    # No burst of 25 catch-up frames: the next frames are paced again right away, and the RTP
    # timestamps jump past the gap so the receiver's playout stays aligned with real time.
    assert 0.08 < time.monotonic() - started < 0.2
    assert (late.pts or 0) >= 25 * FRAME and track.skipped_frames >= 20
    assert [(f.pts or 0) - (late.pts or 0) for f in after] == [FRAME * (i + 1) for i in range(5)]
    track.stop()
