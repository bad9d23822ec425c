"""Echo cancellation: Theo's own voice taken out of the caller's microphone, so a caller on a loudspeaker
cannot interrupt Theo with Theo (WebRTC's AEC3, through ``livekit.rtc.AudioProcessingModule``).

The far end is what the call's :class:`~theo_rtc.transports.sink.AudioSink` *plays*, handed over by its
playout tap with the time it plays on the sink's clock; the near end is the caller's microphone, stamped
with the time it arrives on the same clock. Both go on one sample timeline at the microphone's rate, and
the APM gets them in 10 ms pairs: for each near-end frame, first the far-end frame that played at that
moment (``process_reverse_stream``), then the near-end frame (``process_stream``, in place). The echo comes
back later than it played (network both ways, the caller's device and room): AEC3's delay estimator finds
that delay (measured here from 40 to 500 ms) and the filter the room's echo path.

AEC3 needs a second or two of Theo's voice to converge; until it has had ``WARMUP_S`` of it, a frame it
cut by 12 dB or more is taken to be echo and muted (the caller's voice over Theo is cut by less), so the
bursts it leaves meanwhile cannot reach the VAD, whose gain stage would make them as loud as speech.

Nothing is done while nothing plays: a near-end frame with no far-end audio within ``tail_s`` before it
passes untouched and the APM is not called, so an idle call costs one comparison per microphone frame.
Memory is bounded: the far-end timeline keeps the last ``span_s`` of audio in a fixed ring.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from theo_rtc.backends.types import AudioArray
from theo_rtc.preprocessing.resample import PCM16Resampler

log = logging.getLogger("theo.echo")

__all__ = ["EchoCanceller", "EchoStats", "supported_rate"]

TAIL_S = 1.0  # far-end audio this long before a near-end frame can still echo in it (delay + reverb)
SPAN_S = 4.0  # far-end audio kept: the tail, LiveKit's queue ahead of now, and slack
RESYNC_S = 0.25  # near-end arrivals this far off their sample clock re-anchor it (a gap, a burst)
JITTER_S = 0.03  # far-end chunks this close to where the last one ended continue it
WARMUP_S = 3.0  # processed while AEC3 converges (its first second or two leave bursts of echo)
WARMUP_GATE = 10 ** (12 / 10)  # meanwhile, a frame it cut by 12 dB or more is echo: muted


def supported_rate(rate: int) -> bool:
    """The APM takes exact 10 ms frames (a frame of another size aborts the process): whole-sample 10 ms
    frames at rates it processes natively."""
    return rate % 100 == 0 and 8_000 <= rate <= 48_000


@dataclass(slots=True)
class EchoStats:
    near_s: float = 0.0  # microphone audio seen
    processed_s: float = 0.0  # of it, through the APM (far-end audio within the tail)
    muted_s: float = 0.0  # of it, echo left while AEC3 was converging, muted
    far_s: float = 0.0  # far-end audio received from the sink
    echo_in: float = 0.0  # energy of the microphone while far-end audio played in the same frame
    echo_out: float = 0.0  # the same after cancellation

    @property
    def reduction_db(self) -> float | None:
        """Microphone energy removed while Theo played (echo, and any caller speech over it)."""
        if self.echo_in <= 0.0:
            return None
        return round(10 * float(np.log10(self.echo_in / max(self.echo_out, 1e-12))), 1)


class FarEndTimeline:
    """Far-end samples on an absolute sample clock (index = round(time × rate)); the last ``span``
    samples in a ring; runs of audio remembered so that "did anything play near here" is cheap."""

    def __init__(self, rate: int, span_s: float = SPAN_S) -> None:
        self.rate = rate
        self.size = int(span_s * rate)
        self._ring = np.zeros(self.size, np.int16)
        self.end: int | None = None  # index after the last sample written
        self.runs: list[list[int]] = []  # [start, end) of audio, oldest first

    def write(self, samples: np.ndarray, start: int) -> None:
        n = len(samples)
        if not n:
            return
        if self.end is not None and start > self.end:
            self._put(self.end, np.zeros(min(start - self.end, self.size), np.int16))  # silence between
        self._put(start, samples)
        self.end = start + n
        gap = int(TAIL_S * self.rate)
        if self.runs and self.runs[-1][0] <= start <= self.runs[-1][1] + gap:
            self.runs[-1][1] = start + n
        else:
            self.runs.append([start, start + n])
        while self.runs and self.runs[0][1] < self.end - self.size:
            self.runs.pop(0)

    def drop_after(self, index: int) -> None:
        """What was to play from ``index`` on will not."""
        if self.end is None or index >= self.end:
            return
        self.end = index
        self.runs = [[s, min(e, index)] for s, e in self.runs if s < index]

    def read(self, start: int, n: int) -> np.ndarray:
        """``n`` samples from ``start``; silence where nothing was written (or it is too old)."""
        out = np.zeros(n, np.int16)
        if self.end is None:
            return out
        lo, hi = max(start, self.end - self.size), min(start + n, self.end)
        if lo < hi:
            i = lo % self.size
            first = min(hi - lo, self.size - i)
            out[lo - start : lo - start + first] = self._ring[i : i + first]
            out[lo - start + first : hi - start] = self._ring[: hi - lo - first]
        return out

    def audible(self, start: int, end: int, tail: int) -> bool:
        """Did far-end audio play within ``[start - tail, end)``?"""
        return any(s < end and e > start - tail for s, e in reversed(self.runs))

    def _put(self, start: int, samples: np.ndarray) -> None:
        if len(samples) > self.size:  # only the last span fits
            start, samples = start + len(samples) - self.size, samples[-self.size :]
        i = start % self.size
        first = min(len(samples), self.size - i)
        self._ring[i : i + first] = samples[:first]
        self._ring[: len(samples) - first] = samples[first:]


class EchoCanceller:
    """A call's echo canceller: a :class:`~theo_rtc.transports.sink.PlayoutTap` for the sink (``played``,
    ``dropped``) and a near-end filter for the session (``process``). One per microphone; the APM is made
    for the microphone's rate on first use (and again if the rate changes)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        name: str = "",
        tail_s: float = TAIL_S,
        span_s: float = SPAN_S,
    ) -> None:
        """``clock``: the sink's (far-end times are on it; near-end frames are stamped with it)."""
        self.clock = clock
        self.name = name
        self.stats = EchoStats()
        self._tail = 0  # tail_s in samples at the microphone's rate
        self._tail_s = tail_s
        self._span_s = span_s
        self._rate = 0
        self._apm: Any = None
        self._far: FarEndTimeline | None = None
        self._far_resampler: PCM16Resampler | None = None
        self._far_next: float | None = None  # when the next far-end chunk is due if it continues the last
        self._far_pos = 0  # timeline index where the far end's next resampled sample goes
        self._near_end: int | None = None  # timeline index after the last near-end sample
        self._pending = np.zeros(0, np.float32)  # near end short of a 10 ms frame, carried to the next call
        self._warned_rate = 0

    # --- far end (the sink's playout tap) -------------------------------------------------------------------

    def played(self, pcm16: np.ndarray, sample_rate: int, at: float) -> None:
        if self._far is None or self._far_resampler is None or not len(pcm16):
            return  # no near end yet: nothing to cancel from
        self.stats.far_s += len(pcm16) / sample_rate
        if self._far_next is None or abs(at - self._far_next) > JITTER_S:
            self._far_resampler.reset()  # a new run: the filter's tail belongs to the last one
            self._far_pos = round(at * self._rate)
        self._far_next = at + len(pcm16) / sample_rate
        samples = self._far_resampler.process(pcm16.astype("<i2", copy=False).tobytes(), sample_rate)
        self._far.write(samples, self._far_pos)
        self._far_pos += len(samples)

    def dropped(self, at: float) -> None:
        if self._far is not None:
            self._far.drop_after(round(at * self._rate))
        self._far_next = None

    # --- near end (the session's input filter) -----------------------------------------------------------

    def process(self, samples: AudioArray, sample_rate: int) -> AudioArray:
        """The microphone's mono float32 at ``sample_rate`` with the echo of what played taken out. Up to
        one 10 ms frame is held back while Theo plays (and given back, in order, when it stops)."""
        if sample_rate != self._rate:
            self._start(sample_rate)
        n = len(samples)
        self.stats.near_s += n / max(sample_rate, 1)
        if self._apm is None or not n:
            return samples
        assert self._far is not None
        now = round(self.clock() * self._rate)
        if self._near_end is None or abs(self._near_end + n - now) > RESYNC_S * self._rate:
            if self._near_end is not None:
                log.debug(
                    "%s: microphone %+d ms off its clock: re-anchored",
                    self.name,
                    (self._near_end + n - now) * 1000 // self._rate,
                )
            self._near_end = now - n  # (re)anchor the microphone's sample clock to its arrival
        start = self._near_end - len(self._pending)  # timeline index of the first sample to go out
        self._near_end += n
        if not len(self._pending) and not self._far.audible(start, start + n, self._tail):
            return samples  # nothing played within the tail: no echo to cancel, no work
        audio = np.concatenate([self._pending, samples]) if len(self._pending) else samples
        frame = self._rate // 100
        whole = len(audio) // frame * frame
        out = np.array(audio[:whole], dtype=np.float32)
        for offset in range(0, whole, frame):
            out[offset : offset + frame] = self._frame(out[offset : offset + frame], start + offset)
        self._pending = np.array(audio[whole:], dtype=np.float32)
        if len(self._pending) and not self._far.audible(start + whole, self._near_end, self._tail):
            out, self._pending = np.concatenate([out, self._pending]), np.zeros(0, np.float32)
        return out

    def close(self) -> EchoStats:
        """Free the APM; the stats say what it did."""
        self._apm = None
        self._far = None
        stats = self.stats
        log.info(
            "%s: echo cancellation off: %.1f s of microphone, %.1f s processed while %.1f s of Theo played%s",
            self.name,
            stats.near_s,
            stats.processed_s,
            stats.far_s,
            "" if stats.reduction_db is None else f", {stats.reduction_db} dB removed meanwhile",
        )
        return stats

    # --- internals ----------------------------------------------------------------------------------------

    def _start(self, rate: int) -> None:
        self._rate = rate
        self._tail = int(self._tail_s * rate)
        self._apm = self._far = self._far_resampler = self._near_end = self._far_next = None
        self._pending = np.zeros(0, np.float32)
        self._warming_s = 0.0  # Theo's voice the APM has processed so far
        if not supported_rate(rate):
            if self._warned_rate != rate:
                self._warned_rate = rate
                log.warning(
                    "%s: no echo cancellation at %d Hz (it needs a multiple of 100 Hz from 8 to 48 kHz)",
                    self.name,
                    rate,
                )
            return
        from livekit import rtc  # optional dependency (theo-rtc[livekit]); Call checks it is there

        self._apm = rtc.AudioProcessingModule(echo_cancellation=True)
        frame = rate // 100
        self._near_frame = rtc.AudioFrame(bytearray(frame * 2), rate, 1, frame)
        self._far_frame = rtc.AudioFrame(bytearray(frame * 2), rate, 1, frame)
        self._near_buf = np.frombuffer(self._near_frame.data, np.int16)  # views of the frames' bytes
        self._far_buf = np.frombuffer(self._far_frame.data, np.int16)
        self._far = FarEndTimeline(rate, self._span_s)
        self._far_resampler = PCM16Resampler(rate, quality="QQ")  # no hold-back: on time, not pretty
        log.debug("%s: echo canceller at %d Hz", self.name, rate)

    def _frame(self, near: AudioArray, start: int) -> AudioArray:
        """One 10 ms near-end frame starting at timeline index ``start``, with the far end that played
        then given to the APM first."""
        assert self._far is not None
        far = self._far.read(start, len(near))
        self._far_buf[:] = far
        self._apm.process_reverse_stream(self._far_frame)
        self._near_buf[:] = np.clip(near * 32768.0, -32768, 32767).astype(np.int16)
        self._apm.process_stream(self._near_frame)
        cleaned = self._near_buf.astype(np.float32) / 32768.0
        seconds = len(near) / self._rate
        self.stats.processed_s += seconds
        energy_in, energy_out = float(np.dot(near, near)), float(np.dot(cleaned, cleaned))
        if self._warming_s < WARMUP_S:
            # AEC3 is still finding the delay and the echo path: a frame it took most of is echo, and what
            # it left (short bursts that a gain stage would make as loud as speech) goes too.
            self._warming_s += seconds
            if energy_out * WARMUP_GATE < energy_in:
                cleaned[:] = 0.0
                energy_out = 0.0
                self.stats.muted_s += seconds
            if self._warming_s >= WARMUP_S:
                log.info(
                    "%s: echo canceller converging for %.0f s: %s dB removed, %.1f s of echo muted meanwhile",
                    self.name,
                    WARMUP_S,
                    self.stats.reduction_db,
                    self.stats.muted_s,
                )
        if far.any():
            self.stats.echo_in += energy_in
            self.stats.echo_out += energy_out
        return cleaned
