"""What the session asks the engine to decode, and when.

While speech goes on: a partial every ``partial_interval_ms`` of new audio (none during a trailing silence:
it would still be decoding when the turn ends and delay the final). Once a pause reaches the commit tail:
the early final, a decode of exactly the audio the commit will hold, at a final's quality, so the engine can
answer the commit with it (``early_final``; issue 13 §2). At the turn's end: the commit, the utterance's
audio up to the pause plus the tail. When the ring fills without a turn end: a forced commit, and the speech
that goes on starts a new segment at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from theo_rtc.backends.types import STT_SAMPLE_RATE, StreamChunk, TranscribeOptions
from theo_rtc.observability import metrics
from theo_rtc.session.config import SessionConfig
from theo_rtc.session.engine_stream import EngineStream
from theo_rtc.session.events import Emit
from theo_rtc.session.ring_buffer import RingBuffer
from theo_rtc.session.segments import Segments
from theo_rtc.session.transcriber import Transcriber
from theo_rtc.session.transcript import PendingFinal, ms
from theo_rtc.vad import VoiceActivityDetector

__all__ = ["COMMIT_TAIL", "DecodeRequests"]

log = logging.getLogger("theo.session")

COMMIT_TAIL = int(0.2 * STT_SAMPLE_RATE)  # audio kept after VAD's end-of-speech point in a final
FIRST_PARTIAL = STT_SAMPLE_RATE * 8 // 10  # speech after the pre-roll before the first partial


class DecodeRequests:
    def __init__(
        self,
        session_id: str,
        ring: RingBuffer,
        segments: Segments,
        stream: EngineStream,
        transcriber: Transcriber,
        emit: Emit,
        config: Callable[[], SessionConfig],
        options: Callable[[], TranscribeOptions],
    ) -> None:
        self._id = session_id
        self._ring = ring
        self._segments = segments
        self._stream = stream
        self._transcriber = transcriber
        self._emit = emit
        self._config = config
        self._options = options
        self._last_decode_at = 0
        self._prepared: tuple[int, int] | None = None  # (segment, end) of the early final asked for
        self.speech_end_at: float | None = None  # when VAD last heard the end of speech (latency metrics)

    def after_audio(self, vad: VoiceActivityDetector) -> None:
        """New audio is in the ring and VAD has seen it: ask for whatever decode is due."""
        if not self._segments.in_progress:
            return
        if self._ring.needs_force_commit:
            self.force_commit()
        elif (end := self._early_final_end(vad)) is not None:
            self._prepared = (self._segments.id, end)
            metrics.stt_early_finals_total.labels("prepared").inc()
            chunk = StreamChunk(self._segments.unsent(end), prepare=True)
            self._stream.request_partial(chunk, self._segments.id)
        elif self._partial_due(vad):
            chunk = StreamChunk(self._segments.unsent(self._ring.write_offset), decode=True)
            self._stream.request_partial(chunk, self._segments.id)
            self._last_decode_at = self._ring.write_offset

    def begin_segment(self, start: int, *, announce: bool, continues: bool = False) -> None:
        self._segments.begin(start, continues=continues)
        self._last_decode_at = start
        self._transcriber.partial.reset()
        self._stream.send(StreamChunk(np.zeros(0, np.float32), reset=True, options=self._options()))
        if announce:
            log.debug("%s: segment %d starts at %d ms", self._id, self._segments.id, ms(start))

    def speech_ended(self) -> None:
        self.speech_end_at = time.monotonic()

    def commit_turn(self, pause: int) -> None:
        """The turn ended at ``pause``: commit the utterance up to it plus the tail."""
        if self._segments.in_progress:
            self.commit(forced=False, end=min(self._ring.write_offset, pause + COMMIT_TAIL))

    def force_commit(self) -> None:
        if not self._segments.in_progress:
            self._segments.floor = self._ring.write_offset
            self._ring.commit(self._ring.write_offset)
            return
        metrics.stt_segments_force_committed_total.inc()
        self.commit(forced=True)

    def commit(self, *, forced: bool, end: int | None = None) -> None:
        segments = self._segments
        assert segments.start is not None
        end = self._ring.write_offset if end is None else end
        final = PendingFinal(
            segments.id, segments.start, end, self.speech_end_at, forced, segments.window_start
        )
        self._stream.request_final(StreamChunk(segments.unsent(end), commit=True), final)
        self._emit(
            "input_audio_buffer.committed",
            segment_id=segments.id,
            start_ms=ms(segments.start),
            end_ms=ms(end),
            forced=forced,
        )
        segments.end(end)
        if forced:
            # Speech continues past a forced commit: the rest belongs to a new segment straight away.
            self.begin_segment(end, announce=False, continues=True)

    def _early_final_end(self, vad: VoiceActivityDetector) -> int | None:
        """Where the final will end if this pause ends the turn, once that audio is all here.

        The commit comes min_silence_ms into the pause and its audio ends COMMIT_TAIL into it; decoding
        that audio as soon as it is here hides most of the final's decode behind the rest of the wait.
        """
        config = self._config()
        pause = vad.silence_start
        if not (config.early_final and config.turn_detection) or pause is None:
            return None
        end = pause + COMMIT_TAIL
        if self._ring.write_offset < end or self._prepared == (self._segments.id, end):
            return None
        return end

    def _partial_due(self, vad: VoiceActivityDetector) -> bool:
        config = self._config()
        return (
            config.partials
            and not self._stream.partial_in_flight
            # a partial started now would still be decoding when the utterance ends and delay the final
            and not vad.trailing_silence
            and self._ring.write_offset - self._last_decode_at >= config.partial_interval_ms * 16
            # first pass: ~0.5 s of speech after the pre-roll (shorter windows drop the first word)
            and self._ring.write_offset - (self._segments.start or 0) >= FIRST_PARTIAL
        )
