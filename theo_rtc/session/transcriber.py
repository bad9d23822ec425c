"""The engine's answers as the client's transcript: partials, and one post-processed final per commit."""

from __future__ import annotations

import asyncio
import time

from theo_rtc.backends.types import StreamHypothesis, TranscriptSegment
from theo_rtc.observability import metrics
from theo_rtc.session.config import SessionConfig
from theo_rtc.session.events import Emit
from theo_rtc.session.ring_buffer import RingBuffer
from theo_rtc.session.segments import Segments
from theo_rtc.session.transcript import (
    PartialText,
    PendingFinal,
    PromptContext,
    final_fields,
    final_segment,
    ms,
    partial_words,
    postprocess_request,
)
from theo_rtc.session.wal import CommitLog
from theo_rtc.stt.service import TranscriptionService


class Transcriber:
    def __init__(
        self,
        transcriptions: TranscriptionService,
        ring: RingBuffer,
        wal: CommitLog,
        segments: Segments,
        emit: Emit,
    ) -> None:
        self._transcriptions = transcriptions
        self._ring = ring
        self._wal = wal
        self._segments = segments
        self._emit = emit
        self.partial = PartialText()  # of the segment in progress
        self.context = PromptContext()
        self.finals_emitted = 0
        self._speech_started_at: float | None = None
        self._first_partial_sent = False

    def speech_started(self) -> None:
        """VAD heard speech start: the next partial measures time to first byte."""
        self._speech_started_at = time.monotonic()
        self._first_partial_sent = False

    async def on_partial(self, hypothesis: StreamHypothesis, *, stable: bool) -> None:
        """A decode of the segment in progress; ``stable``: CTC/streaming-native words (no agreement)."""
        segments = self._segments
        assert segments.start is not None
        own = segments.own_words(hypothesis.words, segments.id, segments.start, segments.window_start)
        partial = self.partial.update(partial_words(hypothesis, own), stable=stable)
        if partial is None:
            return
        if not self._first_partial_sent and self._speech_started_at is not None:
            metrics.stt_ttfb_seconds.observe(time.monotonic() - self._speech_started_at)
            self._first_partial_sent = True
        self._emit("transcript.partial", segment_id=segments.id, text=partial[0], unconfirmed=partial[1])

    async def on_final(
        self, pending: PendingFinal, hypothesis: StreamHypothesis, config: SessionConfig
    ) -> None:
        """The answer to a commit: recorded in the WAL (the ring may drop its audio), then sent."""
        own = self._segments.own_words(
            hypothesis.words, pending.segment_id, pending.start, pending.window_start
        )
        self._segments.spoke(
            pending.segment_id, pending.window_start, hypothesis.words if own is None else own
        )
        segments = await self._postprocess(final_segment(pending, hypothesis, own), config)
        text = "".join(s.text for s in segments).strip()
        self._wal.record(pending.segment_id, pending.end, ms(pending.end))
        self._ring.commit(max(self._ring.fence, min(pending.end, self._ring.write_offset)))
        if pending.speech_end_at is not None:
            metrics.stt_final_delay_seconds.observe(time.monotonic() - pending.speech_end_at)
        if not text:
            metrics.stt_no_speech_segments_total.inc()
            self._emit(
                "transcript.discarded",
                segment_id=pending.segment_id,
                reason="no_speech",
                start_ms=ms(pending.start),
                end_ms=ms(pending.end),
            )
            return
        self.context.add(text, hypothesis)
        self.finals_emitted += 1
        language = hypothesis.language or config.language
        self._emit("transcript.final", **final_fields(pending, text, segments, language))

    async def _postprocess(
        self, segment: TranscriptSegment, config: SessionConfig
    ) -> list[TranscriptSegment]:
        # Entities, ITN and hot words are CPU work: off the event loop. Finals stay in order: the engine
        # stream handles one hypothesis at a time and awaits this.
        request = postprocess_request(config)
        return await asyncio.to_thread(self._transcriptions.rewrite, [segment], request)
