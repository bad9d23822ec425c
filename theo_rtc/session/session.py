"""The transport-agnostic streaming session (seed §4.6–4.8, §6.1).

Audio in (any rate, any frame size) → preprocessing → ring buffer → VAD → the engine's bidirectional
``TranscribeStream`` over a growing window → LocalAgreement partials → final on VAD end (or commit) →
post-processing. Events go out through a :class:`SessionOutput`; transports only adapt I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
import zlib
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from theo_rtc.backends.types import (
    STT_SAMPLE_RATE,
    AudioArray,
    StreamChunk,
    StreamHypothesis,
    STTArchitecture,
    TranscribeOptions,
    TranscriptSegment,
    Word,
)
from theo_rtc.errors import InvalidRequestError, TheoError, WorkerUnavailableError
from theo_rtc.observability import metrics
from theo_rtc.preprocessing import StreamPreprocessor, pcm16_to_float
from theo_rtc.runtime import TheoRuntime
from theo_rtc.session.config import SessionConfig
from theo_rtc.session.input_gate import InputGate
from theo_rtc.session.local_agreement import LocalAgreement
from theo_rtc.session.ring_buffer import RingBuffer
from theo_rtc.session.state import SessionState, StateMachine, Timeouts
from theo_rtc.session.transport import SessionOutput
from theo_rtc.session.wal import CommitLog
from theo_rtc.stt.service import TranscriptionRequest
from theo_rtc.vad import VoiceActivityDetector

log = logging.getLogger("theo.session")

MAX_BACKLOG_S = 10.0
FINAL_FLUSH_LIMIT_S = 30.0  # how long a graceful close waits for finals already committed
_COMMIT_TAIL = int(0.2 * STT_SAMPLE_RATE)  # audio kept after VAD's end-of-speech point in a final
_CONTEXT_CHARS = 200  # cross-segment prompt length
# A segment whose speech starts within _LEFT_CONTEXT_GAP of VAD's previous end of speech continues it (VAD
# split a sentence at a pause; a forced or mid-speech commit): the worker decodes it after the previous
# segment's audio (at most _LEFT_CONTEXT), and the words up to the previous final's last one are dropped.
# Cut off from what precedes it, whisper-tiny.en garbles a continuation's first words ("may be considered"
# -> "Maybe consider it"): LJSpeech in one session, WER 8.3 % -> 6.5 % (400 ms silence) and 7.1 % (300 ms).
# Longer gaps are separate utterances; reaching back over them makes text up in the pause (16-20 % WER).
_LEFT_CONTEXT_GAP = STT_SAMPLE_RATE
_LEFT_CONTEXT = 10 * STT_SAMPLE_RATE  # windows starting mid-word (a 3 s cap) lose words


def _ms(samples: int) -> int:
    return round(samples * 1000 / STT_SAMPLE_RATE)


# A final trusted as context for the next utterance (``cross_segment_context``). Made-up endings ("Thank you
# very much.") start with a word of probability <= 0.06 and come from a decode pass over the non-speech tail
# (no_speech_prob 0.44-0.75); loops (". . . .") compress far beyond Whisper's own 2.4 limit.
_CONTEXT_MIN_WORD_PROB = 0.25
_CONTEXT_MAX_NO_SPEECH = 0.4
_CONTEXT_MIN_LOGPROB = -0.7
_CONTEXT_MAX_COMPRESSION = 2.4


def _after(words: tuple[Word, ...], boundary_s: float) -> tuple[Word, ...]:
    """The words that start at or after ``boundary_s`` (seconds into the window)."""
    return tuple(w for w in words if w.start >= boundary_s)


def _confident(hypothesis: StreamHypothesis) -> bool:
    if not hypothesis.words or not hypothesis.text:
        return False
    encoded = hypothesis.text.encode("utf-8")
    return (
        min(w.probability for w in hypothesis.words) >= _CONTEXT_MIN_WORD_PROB
        and hypothesis.no_speech_prob <= _CONTEXT_MAX_NO_SPEECH
        and hypothesis.avg_logprob >= _CONTEXT_MIN_LOGPROB
        and len(encoded) / len(zlib.compress(encoded)) <= _CONTEXT_MAX_COMPRESSION
    )


@dataclass(slots=True)
class _PendingFinal:
    segment_id: int
    start: int
    end: int
    speech_end_at: float | None
    forced: bool
    window_start: int  # where the worker's window starts: ``start``, or earlier with left context


@dataclass(slots=True)
class _PendingPartial:
    segment_id: int


class StreamingSession:
    def __init__(
        self,
        runtime: TheoRuntime,
        output: SessionOutput,
        config: SessionConfig | None = None,
        *,
        timeouts: Timeouts | None = None,
        ring_seconds: float = 60.0,
        session_id: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.output = output
        self.config = config or SessionConfig(model=runtime.settings.default_stt_model)
        self.id = session_id or f"sess_{uuid.uuid4().hex[:16]}"
        self.ring = RingBuffer(ring_seconds)
        self.wal = CommitLog()
        self.state = StateMachine(timeouts or Timeouts(), self._on_state_change)
        self._preprocessor = StreamPreprocessor(self.config.sample_rate, runtime.settings.preprocessing)
        self._vad = self._new_vad()
        self._agreement = LocalAgreement()
        self._input: asyncio.Queue[AudioArray | None] = asyncio.Queue()
        self._queued_samples = 0  # at the client's rate, not yet processed
        self._outbox: asyncio.Queue[StreamChunk | None] | None = None
        self._pending: deque[_PendingPartial | _PendingFinal] = deque()
        self._tasks: list[asyncio.Task[None]] = []
        self._events: asyncio.Queue[tuple[dict[str, Any], asyncio.Future[None] | None] | None] = (
            asyncio.Queue()
        )
        self._sender_task: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        self._input_idle = asyncio.Event()
        self._input_idle.set()
        self._finals_idle = asyncio.Event()  # no commit waiting for its final
        self._finals_idle.set()
        self._stream_ready = asyncio.Event()
        self.input_gate = InputGate()  # held by speakers while their audio plays (mute-on-speak)
        self._flushing = False
        self._started = False
        self._architecture = STTArchitecture.ENCODER_DECODER

        self._segment_id = 0
        self._segment_start: int | None = None  # offset where the utterance in progress starts
        self._start_floor = 0  # first offset not yet claimed by an issued commit
        self._sent = 0  # offset up to which the worker has this utterance's audio
        self._window_start = 0  # where the worker's window for this utterance starts (left context)
        self._previous_segment: tuple[int, int] | None = None  # (start, end) of the last commit
        self._last_speech_end: int | None = None  # offset of VAD's last end of speech
        self._spoken_until: tuple[int, int] | None = None  # (segment id, end offset of its final's last word)
        self._timestamped_words = True  # the engine times its words, so left context can be dropped
        self._last_decode_at = 0
        self._partial_in_flight = False
        self._speech_started_at: float | None = None
        self._first_partial_sent = False
        self._last_partial = ("", "")
        self._speech_end_at: float | None = None
        self._context = ""

        self._started_at = time.monotonic()
        self._first_audio_at: float | None = None
        self._received_samples = 0
        self._dropped_samples = 0
        self._last_drop_notice = 0.0
        self._last_rate_notice = 0.0
        self.finals_emitted = 0

    # --- lifecycle ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        self.runtime.store.get(self.config.model)  # fail fast on unknown models
        manifest = self.runtime.store.get(self.config.model).manifest
        self._architecture = STTArchitecture(manifest.architecture or STTArchitecture.ENCODER_DECODER.value)
        self._timestamped_words = manifest.capabilities.word_timestamps
        metrics.stt_active_sessions.inc()
        self._started = True
        self._sender_task = asyncio.create_task(self._sender(), name=f"{self.id}-sender")
        self._emit("session.created", session_id=self.id, config=self.config.model_dump(mode="json"))
        self._tasks = [
            asyncio.create_task(self._process_loop(), name=f"{self.id}-process"),
            asyncio.create_task(self._worker_loop(), name=f"{self.id}-worker"),
            asyncio.create_task(self._ticker(), name=f"{self.id}-ticker"),
        ]
        for task in self._tasks:
            task.add_done_callback(self._on_task_done)

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        # A bug must not leave a half-dead session: report it and close.
        log.error("%s: %s crashed", self.id, task.get_name(), exc_info=task.exception())
        self._emit(
            "error", code="internal_error", message=f"internal error: {task.exception()!r}", recoverable=False
        )
        if not self.closed:
            self._crash_shutdown = asyncio.ensure_future(self._shutdown("internal error"))

    async def close(self, reason: str = "client") -> None:
        """Flush what was said (within the CLOSING budget), then release everything. Idempotent."""
        if self._closed.is_set() or self.state.state == SessionState.CLOSING:
            await self._closed.wait()
            return
        self.state.transition(SessionState.CLOSING)
        self._flushing = True
        with contextlib.suppress(TimeoutError):
            # Queued audio and the utterance in progress get the CLOSING budget; finals already committed
            # are waited for longer, so a graceful close never loses what was said.
            async with asyncio.timeout(self.state.timeouts.closing_s):
                await self._drain_input()
                if self._segment_start is not None:
                    self._issue_commit(forced=False)
            async with asyncio.timeout(FINAL_FLUSH_LIMIT_S):
                await self._finals_idle.wait()
        await self._shutdown(reason)

    async def cancel(self) -> None:
        """Abort without flushing: pending partials and finals are dropped (``session.cancel``)."""
        await self._shutdown("cancelled")

    async def _shutdown(self, reason: str) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self.state.transition(SessionState.CLOSED)
        current = asyncio.current_task()
        if self._outbox is not None:
            # End the request stream first: a gRPC call that has not sent its first message yet only notices
            # cancellation once its request iterator yields or ends.
            self._outbox.put_nowait(None)
        others = [t for t in self._tasks if t is not current]
        for task in others:
            task.cancel()
        if others:
            _, stuck = await asyncio.wait(others, timeout=5.0)
            for task in stuck:
                log.error("%s: %s did not stop within 5 s of cancellation", self.id, task.get_name())
        duration = time.monotonic() - self._started_at
        if self._started:
            metrics.stt_active_sessions.dec()
            metrics.stt_session_duration_seconds.observe(duration)
        self._emit(
            "session.closed", reason=reason, duration_s=round(duration, 3), segments=self.finals_emitted
        )
        self._events.put_nowait(None)
        if self._sender_task is not None and self._sender_task is not current:
            try:
                await asyncio.wait_for(self._sender_task, 5.0)
            except TimeoutError:
                self._sender_task.cancel()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    # --- client input -------------------------------------------------------------------------------------

    def push_pcm16(self, data: bytes) -> None:
        if len(data) % 2:
            raise InvalidRequestError("PCM16 frames must hold an even number of bytes", param="audio")
        self.push_audio(pcm16_to_float(data))

    def push_audio(self, samples: AudioArray) -> None:
        """Queue mono float32 at ``config.sample_rate``. Never blocks; drops past a 10 s backlog."""
        if self.closed or self.state.state == SessionState.CLOSING:
            raise InvalidRequestError("the session is closing; audio is no longer accepted", param="audio")
        if not np.all(np.isfinite(samples)):
            raise InvalidRequestError("audio contains NaN or infinite samples", param="audio")
        now = time.monotonic()
        if self.input_gate.closed:
            metrics.stt_muted_frames_total.inc()
            return
        rate = self.config.sample_rate
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
        self._check_rate(now)
        self._queued_samples += len(samples)
        self._input_idle.clear()
        self._input.put_nowait(samples)

    async def configure(self, changes: dict[str, Any]) -> None:
        try:
            merged = SessionConfig.model_validate(self.config.model_dump() | changes)
        except ValidationError as exc:
            first = exc.errors()[0]
            param = ".".join(str(p) for p in first["loc"])
            raise InvalidRequestError(
                f"invalid session.configure: {param}: {first['msg']}", param=param
            ) from exc
        if merged.model != self.config.model:
            if self._segment_start is not None or self._pending:
                raise InvalidRequestError("the model can only change between utterances", param="model")
            self.runtime.store.get(merged.model)
        if merged.sample_rate != self.config.sample_rate:
            self._preprocessor = StreamPreprocessor(merged.sample_rate, self.runtime.settings.preprocessing)
        vad_changed = (merged.vad_sensitivity, merged.min_silence_ms) != (
            self.config.vad_sensitivity,
            self.config.min_silence_ms,
        )
        model_changed = merged.model != self.config.model
        self.config = merged
        if vad_changed and self._segment_start is None:
            self._vad = self._new_vad()
        if model_changed:
            await self._restart_stream()
        self._emit("session.configured", config=self.config.model_dump(mode="json"))

    async def commit(self) -> bool:
        """Commit the audio since the last commit as one segment (``input_audio_buffer.commit``)."""
        await self._drain_input()
        if self._segment_start is None:
            if self.ring.write_offset - self._start_floor < STT_SAMPLE_RATE // 10:
                return False
            self._begin_segment(self._start_floor, announce=False)
        self._issue_commit(forced=False)
        if self._vad.speaking:
            # Committed mid-speech: the words still being said belong to the next segment (VAD will not
            # announce a new speech start for them), as after a forced commit.
            self._begin_segment(self._start_floor, announce=False, continues=True)
        return True

    async def clear(self) -> None:
        """Discard uncommitted audio (``input_audio_buffer.clear``)."""
        await self._drain_input()
        self._segment_start = None
        self._start_floor = self.ring.write_offset
        self._previous_segment = self._last_speech_end = None
        self._agreement.reset()
        self._vad = self._new_vad()
        self._send(StreamChunk(np.zeros(0, np.float32), reset=True))
        self._emit("input_audio_buffer.cleared")

    # --- processing ---------------------------------------------------------------------------------------

    def _new_vad(self) -> VoiceActivityDetector:
        model_path: Path | None = None
        if self.runtime.store.is_installed("silero-vad"):
            model_path = self.runtime.store.get("silero-vad").path / "silero_vad.onnx"
        return VoiceActivityDetector(
            self.config.vad_sensitivity, min_silence_ms=self.config.min_silence_ms, model_path=model_path
        )

    async def _drain_input(self) -> None:
        await self._input_idle.wait()

    async def _process_loop(self) -> None:
        while True:
            samples = await self._input.get()
            if samples is None:
                break
            try:
                self._process(samples)
            finally:
                self._queued_samples -= len(samples)
                if not self._queued_samples:
                    self._input_idle.set()
            await asyncio.sleep(0)  # let events and the worker stream interleave with bursts

    def _process(self, raw: AudioArray) -> None:
        samples = self._preprocessor.process(raw)
        if not len(samples):
            return
        if self.ring.uncommitted + len(samples) > self.ring.capacity:
            # The client stopped committing and VAD heard no end: commit to make room (never overwrite).
            self._force_commit()
        self.ring.write(samples)
        if self.state.state == SessionState.INIT:
            self.state.transition(SessionState.SILENCE)  # audio is flowing; INIT's "no audio" timeout is over
        for event in self._vad.process(samples):
            metrics.stt_vad_events_total.labels(event.kind).inc()
            if event.kind == "speech_start":
                self._on_speech_start(event.offset)
            else:
                self._on_speech_end(event.offset)
        if self._segment_start is not None:
            if self.ring.needs_force_commit:
                self._force_commit()
            elif self._should_decode_partial():
                self._send_audio(decode=True)
                self._pending.append(_PendingPartial(self._segment_id))
                self._partial_in_flight = True
                self._last_decode_at = self.ring.write_offset

    def _should_decode_partial(self) -> bool:
        return (
            self.config.partials
            and not self._partial_in_flight
            # a partial started now would still be decoding when the utterance ends and delay the final
            and not self._vad.trailing_silence
            and self.ring.write_offset - self._last_decode_at >= self.config.partial_interval_ms * 16
            # first pass: ~0.5 s of speech after the pre-roll (shorter windows drop the first word)
            and self.ring.write_offset - (self._segment_start or 0) >= STT_SAMPLE_RATE * 8 // 10
        )

    def _on_speech_start(self, offset: int) -> None:
        self.state.transition(SessionState.ACTIVE)
        self._speech_started_at = time.monotonic()
        self._first_partial_sent = False
        if self._segment_start is None:
            preroll = self.config.preroll_ms * 16
            paused = None if self._last_speech_end is None else offset - self._last_speech_end
            self._begin_segment(
                max(self._start_floor, offset - preroll, self.ring.oldest),
                announce=True,
                continues=paused is not None and 0 <= paused <= _LEFT_CONTEXT_GAP,
            )
        self._emit("vad.speech_start", timestamp_ms=_ms(offset), segment_id=self._segment_id)

    def _begin_segment(self, start: int, *, announce: bool, continues: bool = False) -> None:
        self._segment_id += 1
        self._segment_start = start
        self._window_start = self._left_context_start(start) if continues else start
        self._sent = self._window_start
        self._last_decode_at = start
        self._agreement.reset()
        self._last_partial = ("", "")
        self._send(StreamChunk(np.zeros(0, np.float32), reset=True, options=self._options()))
        if announce:
            log.debug("%s: segment %d starts at %d ms", self.id, self._segment_id, _ms(start))

    def _left_context_start(self, start: int) -> int:
        previous = self._previous_segment
        if previous is None or not self._timestamped_words:
            return start
        return max(previous[0], start - _LEFT_CONTEXT, self.ring.oldest)

    def _context_boundary(self, segment_id: int, start: int) -> int:
        """Where a continuation's own words begin: after the previous final's last word (a word VAD heard
        as pause belongs to the new segment), or at its start when that final had no words."""
        if self._spoken_until is not None and self._spoken_until[0] == segment_id - 1:
            return min(start, self._spoken_until[1])
        return start

    def _on_speech_end(self, offset: int) -> None:
        self.state.transition(SessionState.SILENCE)
        self._speech_end_at = time.monotonic()
        self._last_speech_end = offset
        self._emit("vad.speech_end", timestamp_ms=_ms(offset), segment_id=self._segment_id)
        if self.config.turn_detection and self._segment_start is not None:
            self._issue_commit(forced=False, end=min(self.ring.write_offset, offset + _COMMIT_TAIL))

    def _force_commit(self) -> None:
        if self._segment_start is None:
            self._start_floor = self.ring.write_offset
            self.ring.commit(self.ring.write_offset)
            return
        metrics.stt_segments_force_committed_total.inc()
        self._issue_commit(forced=True)

    def _issue_commit(self, *, forced: bool, end: int | None = None) -> None:
        assert self._segment_start is not None
        end = self.ring.write_offset if end is None else end
        self._send_audio(commit=True, end=end)
        self._pending.append(
            _PendingFinal(
                self._segment_id, self._segment_start, end, self._speech_end_at, forced, self._window_start
            )
        )
        self._previous_segment = (self._segment_start, end)
        self._finals_idle.clear()
        self._emit(
            "input_audio_buffer.committed",
            segment_id=self._segment_id,
            start_ms=_ms(self._segment_start),
            end_ms=_ms(end),
            forced=forced,
        )
        self._start_floor = end
        self._segment_start = None
        self._partial_in_flight = False
        if forced:
            # Speech continues past a forced commit: the rest belongs to a new segment straight away.
            self._begin_segment(end, announce=False, continues=True)

    def _send_audio(self, *, decode: bool = False, commit: bool = False, end: int | None = None) -> None:
        end = self.ring.write_offset if end is None else end
        audio = self.ring.read(self._sent, end) if end > self._sent else np.zeros(0, np.float32)
        self._sent = max(self._sent, end)
        self._send(StreamChunk(audio, decode=decode, commit=commit))

    def _send(self, chunk: StreamChunk) -> None:
        if self._outbox is not None:
            self._outbox.put_nowait(chunk)

    def _options(self) -> TranscribeOptions:
        prompt_parts = []
        if self.config.prompt:
            prompt_parts.append(self.config.prompt)
        if (
            self.config.cross_segment_context
            and self._context
            and self._architecture == STTArchitecture.ENCODER_DECODER
        ):
            prompt_parts.append(self._context[-_CONTEXT_CHARS:])
        return TranscribeOptions(
            language=self.config.language,
            initial_prompt=" ".join(prompt_parts) or None,
            word_timestamps=True,
            hot_words=tuple(self.config.hot_words),
        )

    # --- engine stream --------------------------------------------------------------------------------------

    async def _worker_loop(self) -> None:
        while not self.closed:
            outbox: asyncio.Queue[StreamChunk | None] = asyncio.Queue()
            try:
                client = await self.runtime.workers.stt(self.config.model)
                self._outbox = outbox
                self._replay(outbox)
                self._stream_ready.set()
                async for hypothesis in client.stream(self._iterate(outbox), session_id=self.id):
                    await self._on_hypothesis(hypothesis)
                if self.closed:
                    return
            except WorkerUnavailableError as exc:
                self._stream_ready.clear()
                self._outbox = None
                metrics.stt_session_recoveries_total.inc()
                log.warning(
                    "%s: worker stream failed (%s); resuming from the last commit", self.id, exc.message
                )
                self._emit("error", code="worker_restarted", message=exc.message, recoverable=True)
                await asyncio.sleep(0.2)
            except TheoError as exc:
                self._emit("error", code=exc.code or "error", message=exc.message, recoverable=False)
                await self._shutdown("error")
                return

    async def _restart_stream(self) -> None:
        if self._outbox is not None:
            self._outbox.put_nowait(None)

    def _replay(self, outbox: asyncio.Queue[StreamChunk | None]) -> None:
        """After (re)connecting: resend every unanswered commit and the utterance in progress.

        Partials in flight are dropped; finals are only ever emitted when their commit is answered, so
        replaying from the WAL's fence produces each final exactly once.
        """
        finals = [p for p in self._pending if isinstance(p, _PendingFinal)]
        self._pending = deque(finals)
        self._partial_in_flight = False
        for final in finals:
            final.window_start = max(final.window_start, self.ring.oldest)
            audio = self.ring.read(final.window_start, final.end)
            outbox.put_nowait(StreamChunk(audio, reset=True, commit=True, options=self._options()))
        if self._segment_start is not None:
            self._window_start = max(self._window_start, self.ring.oldest)
            audio = self.ring.read(self._window_start, self.ring.write_offset)
            self._sent = self.ring.write_offset
            outbox.put_nowait(StreamChunk(audio, reset=True, options=self._options()))

    async def _iterate(self, outbox: asyncio.Queue[StreamChunk | None]) -> AsyncIterator[StreamChunk]:
        while (chunk := await outbox.get()) is not None:
            yield chunk

    async def _on_hypothesis(self, hypothesis: StreamHypothesis) -> None:
        if not self._pending:
            return
        pending = self._pending.popleft()
        if isinstance(pending, _PendingPartial):
            self._partial_in_flight = False
            if pending.segment_id == self._segment_id and self._segment_start is not None:
                await self._on_partial(hypothesis)
            return
        try:
            await self._on_final(pending, hypothesis)
        finally:
            if not any(isinstance(p, _PendingFinal) for p in self._pending):
                self._finals_idle.set()

    async def _on_partial(self, hypothesis: StreamHypothesis) -> None:
        words = [w.word for w in hypothesis.words] or [f" {w}" for w in hypothesis.text.split()]
        if self._segment_start is not None and self._window_start < self._segment_start:
            boundary = self._context_boundary(self._segment_id, self._segment_start) - self._window_start
            # left context: the previous final's words are not this segment's
            words = [w.word for w in _after(hypothesis.words, boundary / STT_SAMPLE_RATE)]
        if self._architecture != STTArchitecture.ENCODER_DECODER:
            self._agreement.confirmed = words  # CTC/streaming-native partials are already stable
        else:
            self._agreement.update(words)
        text = "".join(self._agreement.confirmed).strip()
        unconfirmed = "".join(self._agreement.unconfirmed).strip()
        if not (text or unconfirmed) or (text, unconfirmed) == self._last_partial:
            return
        self._last_partial = (text, unconfirmed)
        if not self._first_partial_sent and self._speech_started_at is not None:
            metrics.stt_ttfb_seconds.observe(time.monotonic() - self._speech_started_at)
            self._first_partial_sent = True
        self._emit("transcript.partial", segment_id=self._segment_id, text=text, unconfirmed=unconfirmed)

    async def _on_final(self, pending: _PendingFinal, hypothesis: StreamHypothesis) -> None:
        window_s = pending.window_start / STT_SAMPLE_RATE
        text, own = hypothesis.text, hypothesis.words
        if pending.window_start < pending.start:
            # Left context: the words of the previous segment's audio were emitted with its final.
            boundary = self._context_boundary(pending.segment_id, pending.start) - pending.window_start
            own = _after(own, boundary / STT_SAMPLE_RATE)
            text = "".join(w.word for w in own).strip()
        if own:
            self._spoken_until = (
                pending.segment_id,
                pending.window_start + round(own[-1].end * STT_SAMPLE_RATE),
            )
        segment = TranscriptSegment(
            id=pending.segment_id,
            start=pending.start / STT_SAMPLE_RATE,
            end=pending.end / STT_SAMPLE_RATE,
            text=text,
            words=tuple(type(w)(w.word, w.start + window_s, w.end + window_s, w.probability) for w in own),
            avg_logprob=hypothesis.avg_logprob,
            no_speech_prob=hypothesis.no_speech_prob,
        )
        segments = self._postprocess(segment)
        text = "".join(s.text for s in segments).strip()
        self.wal.record(pending.segment_id, pending.end, _ms(pending.end))
        self.ring.commit(max(self.ring.fence, min(pending.end, self.ring.write_offset)))
        if pending.speech_end_at is not None:
            metrics.stt_final_delay_seconds.observe(time.monotonic() - pending.speech_end_at)
        if not text:
            metrics.stt_no_speech_segments_total.inc()
            self._emit(
                "transcript.discarded",
                segment_id=pending.segment_id,
                reason="no_speech",
                start_ms=_ms(pending.start),
                end_ms=_ms(pending.end),
            )
            return
        # Only a confident final may prompt the next utterance; a doubtful one also ends the chain, so neither
        # it nor what came before it is carried further.
        self._context = (
            (self._context + " " + text).strip()[-_CONTEXT_CHARS:] if _confident(hypothesis) else ""
        )
        self.finals_emitted += 1
        words = [w for s in segments for w in s.words]
        self._emit(
            "transcript.final",
            segment_id=pending.segment_id,
            text=text,
            start_ms=_ms(pending.start),
            end_ms=_ms(pending.end),
            language=hypothesis.language or self.config.language,
            forced=pending.forced,
            confidence=round(float(np.mean([w.probability for w in words])), 3) if words else None,
            words=[
                {
                    "word": w.word.strip(),
                    "start_ms": round(w.start * 1000),
                    "end_ms": round(w.end * 1000),
                    "probability": round(w.probability, 3),
                }
                for w in words
            ],
        )

    def _postprocess(self, segment: TranscriptSegment) -> list[TranscriptSegment]:
        request = TranscriptionRequest(
            model=self.config.model,
            language=self.config.language,
            hot_words=tuple(self.config.hot_words),
            postprocess={
                k: v
                for k, v in {
                    "itn": self.config.itn,
                    "domain": self.config.domain,
                    "language": self.config.language,
                }.items()
                if v is not None
            },
        )
        return self.runtime.transcriptions.rewrite([segment], request)

    # --- housekeeping ---------------------------------------------------------------------------------------

    async def _ticker(self) -> None:
        while not self.closed:
            await asyncio.sleep(0.25)
            target = self.state.expired()
            if target is None or (self._flushing and target == SessionState.CLOSED):
                continue
            if target == SessionState.CLOSED:
                reason = "no audio received" if self.state.state == SessionState.INIT else "closing timeout"
                asyncio.create_task(self._shutdown(reason))  # noqa: RUF006 - shutdown cancels this task
                return
            if target == SessionState.CLOSING:
                asyncio.create_task(self.close("hold timeout"))  # noqa: RUF006
                return
            self.state.transition(target)

    def _check_rate(self, now: float) -> None:
        assert self._first_audio_at is not None
        elapsed = now - self._first_audio_at
        received_s = self._received_samples / self.config.sample_rate
        if received_s > 2.0 + elapsed * 1.5 and now - self._last_rate_notice > 5.0:
            self._last_rate_notice = now
            self._emit(
                "session.rate_limit",
                received_ms=round(received_s * 1000),
                elapsed_ms=round(elapsed * 1000),
                message="audio arrives faster than real time; it is processed, latency may grow",
            )

    def _on_state_change(self, old: SessionState, new: SessionState) -> None:
        self._emit("session.state_changed", previous=old.value, state=new.value)
        if new == SessionState.HOLD:
            self._emit("session.hold")

    def emit(self, event_type: str, **fields: Any) -> None:
        """Queue an event for the client. Everything the client hears about the call (VAD, engine
        stream, timers, speakers, the agent) goes through this one FIFO, so events leave in the order they
        happened."""
        self._events.put_nowait(({"type": event_type, "session_id": self.id, **fields}, None))

    _emit = emit

    async def deliver(self, event_type: str, **fields: Any) -> None:
        """:meth:`emit`, then wait until the event has been handed to the transport (so audio a speaker
        sends next cannot overtake its own ``tts.speaking_start``). Returns at once after close."""
        if self._sender_task is None or self._sender_task.done():
            return
        handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._events.put_nowait(({"type": event_type, "session_id": self.id, **fields}, handed))
        await asyncio.wait({handed, self._sender_task}, return_when=asyncio.FIRST_COMPLETED)

    async def wait_events_sent(self) -> None:
        """After close: wait (at most 5 s) until the last event (``session.closed``) has left."""
        if self._sender_task is not None and not self._sender_task.done():
            await asyncio.wait({self._sender_task}, timeout=5.0)

    async def _sender(self) -> None:
        while (item := await self._events.get()) is not None:
            event, handed = item
            try:
                await self.output.send_event(event)
            except Exception:  # a bug in a transport's translation: say so, keep draining
                log.warning("%s: could not send %s", self.id, event["type"], exc_info=True)
            finally:
                if handed is not None and not handed.done():
                    handed.set_result(None)
