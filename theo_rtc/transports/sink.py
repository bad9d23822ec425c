"""Where a call's speech goes out: the :class:`AudioSink` contract every transport implements.

One utterance at a time: ``capture()`` each chunk, ``flush()`` when the utterance has been synthesized, then
``wait_for_playout()`` says when the listener has heard it, with the position played. ``clear()`` drops what
has not played yet (cancel, barge-in) and ends the utterance as interrupted. The position is what lets the
agent keep only what the caller actually heard.

Transports know playout to a different precision, and say so through ``estimated``: the WebRTC track knows
when each frame left, LiveKit's ``rtc.AudioSource`` reports its own queue, and a WebSocket can only estimate
from the clock because the client's playback is out of sight.

The sinks that observe playout (``taps_playout``) also hand what they play to *playout taps*
(:class:`PlayoutTap`): the audio as it plays, stamped with when it plays on the sink's ``clock``, and
word when queued audio was dropped. That is an echo canceller's far end: what the caller's loudspeaker is
playing now, not the audio as synthesized, which runs ahead of it by the transport's queue.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

__all__ = ["AudioSink", "PlaybackResult", "PlayoutTap", "WebSocketAudioSink"]


@dataclass(frozen=True, slots=True)
class PlaybackResult:
    position_s: float  # seconds of the utterance the listener was played
    duration_s: float  # seconds captured for the utterance
    interrupted: bool  # cleared before it had all played


_NOTHING_PLAYED = PlaybackResult(0.0, 0.0, False)


class PlayoutTap(Protocol):
    """Hears what a sink plays, on the sink's clock (an echo canceller's far end)."""

    def played(self, pcm16: np.ndarray, sample_rate: int, at: float) -> None:
        """Mono int16 ``pcm16`` plays from ``at`` on (``at`` may lie ahead: audio queued at a known place
        in a queue that plays at real time)."""

    def dropped(self, at: float) -> None:
        """Audio reported to play from ``at`` on will not play (the sink's queue was cleared)."""


class AudioSink(ABC):
    """Subclasses write audio (``_write``), drop their queue (``_drop_queued``), report the position played
    so far (``_played_s``) and call ``_playout_done()`` once flushed audio has all played."""

    estimated = False  # True where the position is a clock estimate, not observed playout
    taps_playout: ClassVar[bool] = False  # True where the sink reports played audio to playout taps

    def __init__(self) -> None:
        self.clock: Callable[[], float] = time.monotonic  # the time base of the taps' ``at``
        self._taps: list[PlayoutTap] = []
        self._captured_s = 0.0
        self._flushed = False
        self._result: asyncio.Future[PlaybackResult] | None = None
        self._listeners: list[Callable[[PlaybackResult], object]] = []
        self.last_playback: PlaybackResult | None = None

    # --- the contract -------------------------------------------------------------------------------------

    async def capture(self, pcm16: bytes, sample_rate: int) -> None:
        """Queue mono PCM16 for playout; may wait (back-pressure) while the transport's queue is full."""
        if not self.speaking:
            self._begin()
        self._captured_s += len(pcm16) / 2 / sample_rate
        await self._write(pcm16, sample_rate)

    def flush(self) -> None:
        """The utterance is complete: playout finishes once what is queued has played."""
        if self.speaking and not self._flushed:
            self._flushed = True
            self._on_flush()

    def clear(self) -> PlaybackResult:
        """Drop what has not played yet; the utterance ends now as interrupted."""
        if not self.speaking:
            return self.last_playback or _NOTHING_PLAYED
        played = self._played_s()
        self._drop_queued()
        return self._finish(played, interrupted=True)

    async def wait_for_playout(self) -> PlaybackResult:
        """Return once the current utterance has played out (or was cleared)."""
        if self._result is None:
            return _NOTHING_PLAYED
        return await asyncio.shield(self._result)

    def on_playback_finished(self, listener: Callable[[PlaybackResult], object]) -> None:
        self._listeners.append(listener)

    def add_playout_tap(self, tap: PlayoutTap) -> None:
        """From now on ``tap`` hears what plays (only on sinks with ``taps_playout``)."""
        if not self.taps_playout:
            raise TypeError(f"{type(self).__name__} does not report the audio it plays")
        self._taps.append(tap)

    def remove_playout_tap(self, tap: PlayoutTap) -> None:
        if tap in self._taps:
            self._taps.remove(tap)

    @property
    def speaking(self) -> bool:
        """An utterance is under way (captured and not yet played out or cleared)."""
        return self._result is not None and not self._result.done()

    @property
    def awaiting_playout(self) -> bool:
        """The utterance is complete (flushed) and still playing."""
        return self.speaking and self._flushed

    # --- for subclasses -----------------------------------------------------------------------------------

    @abstractmethod
    async def _write(self, pcm16: bytes, sample_rate: int) -> None: ...

    @abstractmethod
    def _drop_queued(self) -> None: ...

    @abstractmethod
    def _played_s(self) -> float: ...

    def _on_begin(self) -> None:  # noqa: B027 - optional hook
        """A new utterance starts."""

    def _on_flush(self) -> None:  # noqa: B027 - optional hook
        """Called once per utterance; finish now if everything already played."""

    def _tap_played(self, pcm16: np.ndarray, sample_rate: int, at: float) -> None:
        """For sinks with ``taps_playout``: ``pcm16`` plays from ``at`` (on ``clock``)."""
        for tap in self._taps:
            tap.played(pcm16, sample_rate, at)

    def _tap_dropped(self, at: float) -> None:
        for tap in self._taps:
            tap.dropped(at)

    def _playout_done(self) -> None:
        if self.speaking and self._flushed:
            self._finish(self._captured_s, interrupted=False)

    def _begin(self) -> None:
        self._captured_s = 0.0
        self._flushed = False
        self._result = asyncio.get_running_loop().create_future()
        self._on_begin()

    def _finish(self, played_s: float, *, interrupted: bool) -> PlaybackResult:
        assert self._result is not None
        result = PlaybackResult(
            round(min(max(played_s, 0.0), self._captured_s), 3), round(self._captured_s, 3), interrupted
        )
        self._result.set_result(result)
        self.last_playback = result
        for listener in self._listeners:
            listener(result)
        return result


class AudioWriter(Protocol):
    """What a :class:`WebSocketAudioSink` writes through (the WebSocket's bounded output queue)."""

    async def send_audio(self, pcm16: bytes, sample_rate: int) -> None: ...


class WebSocketAudioSink(AudioSink):
    """Audio goes to the client as fast as it is made; the client's playback cannot be observed, so playout
    is *estimated* from the clock: the utterance has played ``margin_s`` after its audio's duration has
    elapsed since the first chunk was sent (the margin covers the client's jitter buffer)."""

    estimated = True

    def __init__(self, writer: AudioWriter, *, margin_s: float = 0.15) -> None:
        super().__init__()
        self._writer = writer
        self._margin_s = margin_s
        self._started_at = 0.0
        self._timer: asyncio.TimerHandle | None = None

    async def _write(self, pcm16: bytes, sample_rate: int) -> None:
        await self._writer.send_audio(pcm16, sample_rate)

    def _on_begin(self) -> None:
        self._started_at = time.monotonic()

    def _on_flush(self) -> None:
        remaining = self._started_at + self._captured_s + self._margin_s - time.monotonic()
        self._timer = asyncio.get_running_loop().call_later(max(remaining, 0.0), self._playout_done)

    def _drop_queued(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _played_s(self) -> float:
        return time.monotonic() - self._started_at
