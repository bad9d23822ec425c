"""A synthetic loudspeaker-to-microphone loop for echo cancellation tests: a room-like impulse response,
a clock the test advances, and a sink whose listener plays (and echoes) only what the test plays.

Nothing here depends on machine speed: every 20 ms tick, the test plays 20 ms of Theo's voice (the sink's
playout tap hears it, stamped with the test's clock), advances the clock, and pushes the 20 ms the
microphone picked up meanwhile (the echo of everything played so far, plus any caller speech).
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np
import soxr
from scipy import signal

from tests.realtime.helpers import pcm16
from tests.transports.harness import Events, ListenerSink

RATE = 16_000  # the microphone's (the session's) rate
TICK = 0.02
MIC_FRAME = int(RATE * TICK)


def speech(path: Path, gain: float = 1.0) -> np.ndarray:
    """Real speech as float32 at the microphone's rate."""
    data, _ = pcm16(path, RATE)
    return np.frombuffer(data, "<i2").astype(np.float32) / 32768.0 * gain


def room_response(
    delay_ms: float,
    *,
    gain_db: float = -6.0,
    rt60_s: float = 0.25,
    drr_db: float = 6.0,
    rate: int = RATE,
    seed: int = 7,
) -> np.ndarray:
    """A loudspeaker heard by a microphone in a room: ``delay_ms`` of nothing (network, buffers), the
    direct path, four early reflections and a diffuse tail decaying by 60 dB in ``rt60_s``, with the
    direct-and-early sound ``drr_db`` above the tail; the whole path ``gain_db`` (energy)."""
    rng = np.random.default_rng(seed)
    n = int(rate * rt60_s)
    h = np.zeros(n)
    h[0] = 1.0
    for ms, gain in ((4, 0.5), (7, -0.35), (11, 0.3), (17, -0.2)):
        h[int(ms * rate / 1000)] += gain
    tail = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / rate / rt60_s)
    tail[: int(0.003 * rate)] = 0.0
    tail *= np.sqrt(np.sum(h**2) / np.sum(tail**2) / 10 ** (drr_db / 10))
    h = h + tail
    h *= 10 ** (gain_db / 20) / np.sqrt(np.sum(h**2))
    return np.concatenate([np.zeros(int(rate * delay_ms / 1000)), h]).astype(np.float32)


class Clock:
    """The test's time (seconds), shared by the sink and the echo canceller."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class EchoPath:
    """What the microphone hears of the loudspeaker: the audio played, one tick at a time (silence when
    nothing played), through ``response``. Kept at the loudspeaker's rate, resampled per window (the
    response starts with its delay, so a window's edges never reach the samples that matter)."""

    def __init__(self, response: np.ndarray, far_rate: int) -> None:
        self.response = response
        self.far_rate = far_rate
        self.window = int(far_rate * (len(response) / RATE + 0.2))
        self._far = np.zeros(self.window, np.float32)

    def tick(self, played: np.ndarray | None) -> np.ndarray:
        """``played`` (int16 at ``far_rate``, one tick's worth or None) left the loudspeaker during the
        tick; returns the echo in the microphone's frame for the tick."""
        step = round(self.far_rate * TICK)
        chunk = np.zeros(step, np.float32)
        if played is not None:
            chunk[: len(played)] = played[:step].astype(np.float32) / 32768.0
        self._far = np.concatenate([self._far[step:], chunk])
        far = soxr.resample(self._far, self.far_rate, RATE)
        return signal.fftconvolve(far, self.response)[len(far) - MIC_FRAME : len(far)].astype(np.float32)


class EchoingSink(ListenerSink):
    """A :class:`ListenerSink` with a playout tap: :meth:`play_tick` plays one tick of the queued audio
    (the taps hear it at the clock's time) and returns it, for the echo path."""

    taps_playout = True

    def __init__(self, events: Events, clock: Clock) -> None:
        super().__init__(events)
        self.clock = clock
        self._audio: deque[tuple[np.ndarray, int]] = deque()

    async def _write(self, pcm16: bytes, sample_rate: int) -> None:
        self._audio.append((np.frombuffer(pcm16, "<i2").copy(), sample_rate))
        await super()._write(pcm16, sample_rate)

    def play_tick(self) -> tuple[np.ndarray, int] | None:
        if not self._audio:
            return None
        rate = self._audio[0][1]
        want = round(rate * TICK)
        parts: list[np.ndarray] = []
        while self._audio and sum(map(len, parts)) < want and self._audio[0][1] == rate:
            samples, _ = self._audio.popleft()
            take = want - sum(map(len, parts))
            parts.append(samples[:take])
            if len(samples) > take:
                self._audio.appendleft((samples[take:], rate))
        played = np.concatenate(parts)
        self._tap_played(played, rate, self.clock())
        self.play(len(played) / rate)
        return played, rate

    def _drop_queued(self) -> None:
        self._audio.clear()
        self._tap_dropped(self.clock())
        super()._drop_queued()
