"""Audio tracks of a WebRTC call: the paced outgoing track (TTS → browser) with its :class:`AudioSink`,
and the inbound pump (browser microphone → session)."""

from __future__ import annotations

import asyncio
import fractions
import logging
import time
from collections.abc import Callable

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from theo_rtc.errors import InvalidRequestError
from theo_rtc.preprocessing import PCM16Resampler
from theo_rtc.session import StreamingSession
from theo_rtc.transports.sink import AudioSink

log = logging.getLogger("theo.webrtc")

RATE = 48_000  # Opus's native rate: the encoder would resample anything else anyway
FRAME = RATE // 50  # 20 ms, one Opus packet
_TIME_BASE = fractions.Fraction(1, RATE)
_LATE_S = 0.06  # behind schedule by more than this: skip ahead instead of bursting to catch up


class PacedAudioTrack(MediaStreamTrack):
    """Outgoing mono audio, one 20 ms frame per ``recv()`` at real time; silence when nothing is queued.

    ``write`` takes PCM16 at any rate and blocks once ``buffer_ms`` of audio is queued ahead of real
    time, so a TTS engine faster than real time is throttled instead of piling up audio (which would
    also delay a ``tts.cancel`` by the whole backlog). ``recv`` paces against a clock anchored at the
    first frame; if it is called late (a stalled event loop) it advances the RTP timestamps past the
    gap rather than sending a catch-up burst, so a stall never turns into permanent added latency.
    """

    kind = "audio"

    def __init__(self, buffer_ms: int = 300) -> None:
        super().__init__()
        self._cap = max(FRAME, RATE * buffer_ms // 1000)
        self._pending = np.zeros(0, np.int16)
        self._resampler = PCM16Resampler(RATE)
        self._space = asyncio.Event()
        self._space.set()
        self._start: float | None = None
        self._pts = 0
        self.frames_sent = 0
        self.audio_frames_sent = 0  # frames that carried queued audio (not filler silence)
        self.skipped_frames = 0
        self.last_audio_at: float | None = None  # monotonic time the last audible frame left
        self.played_samples = 0  # queued audio (not filler) that has left, at RATE
        self.on_drained: Callable[[], object] | None = None  # called when the last queued sample has left
        # called with each frame's queued audio as it leaves, and the monotonic time it was due to leave
        self.on_played: Callable[[np.ndarray, float], object] | None = None

    @property
    def queued_ms(self) -> int:
        return len(self._pending) * 1000 // RATE

    async def write(self, pcm16: bytes, sample_rate: int) -> None:
        """Queue mono PCM16; returns when the queue is back under ``buffer_ms`` (or the track ended)."""
        if self.readyState != "live" or not pcm16:
            return
        self._pending = np.concatenate([self._pending, self._resampler.process(pcm16, sample_rate)])
        while len(self._pending) > self._cap and self.readyState == "live":
            self._space.clear()
            await self._space.wait()

    def end_of_audio(self) -> None:
        """Nothing more follows for now: push out what the resamplers still hold."""
        self._pending = np.concatenate([self._pending, self._resampler.flush()])
        if not len(self._pending) and self.on_drained is not None:
            self.on_drained()

    def flush(self) -> None:
        """Drop queued audio now (barge-in, ``tts.cancel``)."""
        self._pending = np.zeros(0, np.int16)
        self._resampler.reset()
        self._space.set()

    def stop(self) -> None:
        super().stop()
        self._space.set()  # release writers blocked on a full queue

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        else:
            self._pts += FRAME
            wait = self._start + self._pts / RATE - now
            if wait > 0:
                await asyncio.sleep(wait)
            elif -wait > _LATE_S:
                skip = int(-wait * RATE) // FRAME * FRAME
                self._pts += skip
                self.skipped_frames += skip // FRAME
        if self.readyState != "live":
            raise MediaStreamError
        chunk = self._pending[:FRAME]
        self._pending = self._pending[FRAME:]
        if len(self._pending) <= self._cap:
            self._space.set()
        if len(chunk):
            self.audio_frames_sent += 1
            self.played_samples += len(chunk)
            self.last_audio_at = time.monotonic()
            if self.on_played is not None:
                self.on_played(chunk, self._start + self._pts / RATE)
            if not len(self._pending) and self.on_drained is not None:
                self.on_drained()
        if len(chunk) < FRAME:
            chunk = np.concatenate([chunk, np.zeros(FRAME - len(chunk), np.int16)])
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = _TIME_BASE
        self.frames_sent += 1
        return frame


class PacedTrackSink(AudioSink):
    """The call's :class:`AudioSink` on a :class:`PacedAudioTrack`: playout is *observed*, the position is
    the audio that has left the track (the browser's jitter buffer adds a few tens of ms after that).
    Playout taps hear each frame as it leaves, stamped with the time it was due (the track's own pacing
    clock, ``time.monotonic``)."""

    taps_playout = True

    def __init__(self, track: PacedAudioTrack) -> None:
        super().__init__()
        self.track = track
        self._base = 0
        track.on_drained = self._playout_done
        track.on_played = lambda chunk, at: self._tap_played(chunk, RATE, at)

    async def _write(self, pcm16: bytes, sample_rate: int) -> None:
        await self.track.write(pcm16, sample_rate)

    def _on_begin(self) -> None:
        self._base = self.track.played_samples

    def _on_flush(self) -> None:
        self.track.end_of_audio()

    def _drop_queued(self) -> None:
        self.track.flush()
        self._tap_dropped(self.clock())

    def _played_s(self) -> float:
        return (self.track.played_samples - self._base) / RATE


async def pump_microphone(track: MediaStreamTrack, session: StreamingSession) -> None:
    """Decoded Opus frames (48 kHz stereo s16, decoded by PyAV inside aiortc) → mono float32 at the
    session's rate → ``session.push_audio``. Returns when the track ends or the session stops taking audio."""
    resampler: av.AudioResampler | None = None
    rate = 0
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        if not isinstance(frame, av.AudioFrame):
            continue
        if rate != session.config.sample_rate:  # session.configure may change it mid-call
            rate = session.config.sample_rate
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        assert resampler is not None
        for out in resampler.resample(frame):
            samples = out.to_ndarray().reshape(-1).astype(np.float32, copy=True)
            try:
                session.push_audio(samples)
            except InvalidRequestError:  # closing: the session no longer takes audio
                return
