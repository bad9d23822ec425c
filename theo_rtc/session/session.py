"""The transport-agnostic streaming session (seed §4.6–4.8, §6.1).

Audio in (any rate, any frame size) → preprocessing → ring buffer → VAD → the engine's bidirectional
``TranscribeStream`` over a growing window → LocalAgreement partials → final on VAD end (or commit) →
post-processing. Events go out through a :class:`SessionOutput`; transports only adapt I/O.

The session owns the parts and decides when things happen (VAD turns, commits, timers, close); each part
is a module of its own: ``intake`` (client audio queue), ``ring_buffer``, ``segments`` (where each
utterance lies, left context), ``decodes`` (when to ask for partials, early finals and commits),
``engine_stream`` (worker stream, replay, recovery), ``transcriber`` (the
engine's answers as partials and post-processed finals) over ``transcript`` (the pure logic of both, the
cross-segment prompt), ``events`` (the one ordered FIFO to the client), ``state`` (timeouts), ``wal``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from theo_rtc.backends.types import (
    STT_SAMPLE_RATE,
    AudioArray,
    StreamChunk,
    StreamHypothesis,
    STTArchitecture,
    TranscribeOptions,
)
from theo_rtc.errors import InvalidRequestError
from theo_rtc.observability import metrics
from theo_rtc.preprocessing import StreamPreprocessor, pcm16_to_float
from theo_rtc.runtime import TheoRuntime
from theo_rtc.session.config import SessionConfig
from theo_rtc.session.decodes import DecodeRequests
from theo_rtc.session.endpointer import COMPLETE, endpointer_for
from theo_rtc.session.engine_stream import EngineStream
from theo_rtc.session.events import EventQueue
from theo_rtc.session.input_gate import InputGate
from theo_rtc.session.intake import AudioIntake
from theo_rtc.session.ring_buffer import RingBuffer
from theo_rtc.session.segments import Segments
from theo_rtc.session.state import SessionState, StateMachine, Timeouts
from theo_rtc.session.transcriber import Transcriber
from theo_rtc.session.transcript import PendingFinal, ms, transcribe_options
from theo_rtc.session.transport import SessionOutput
from theo_rtc.session.wal import CommitLog
from theo_rtc.vad import VoiceActivityDetector

log = logging.getLogger("theo.session")

FINAL_FLUSH_LIMIT_S = 30.0  # how long a graceful close waits for finals already committed


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
        self._events = EventQueue(self.id, output)
        self.ring = RingBuffer(ring_seconds)
        self.wal = CommitLog()
        self.state = StateMachine(timeouts or Timeouts(), self._on_state_change)
        self._preprocessor = StreamPreprocessor(self.config.sample_rate, runtime.settings.preprocessing)
        self._vad = self._new_vad()
        self._endpointer = endpointer_for(self.config, self.runtime.store)
        self._intake = AudioIntake(self.emit)
        self._segments = Segments(self.ring)
        self._stream = EngineStream(self.id, runtime.workers, self.ring, self._segments, self.emit)
        self._transcriber = Transcriber(
            runtime.transcriptions, self.ring, self.wal, self._segments, self.emit
        )
        self._decodes = DecodeRequests(
            self.id,
            self.ring,
            self._segments,
            self._stream,
            self._transcriber,
            self.emit,
            lambda: self.config,
            self._options,
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = asyncio.Event()
        self.input_gate = InputGate()  # held by speakers while their audio plays (mute-on-speak)
        # applied to the client's audio (at config.sample_rate) before anything else (the echo canceller)
        self.input_filter: Callable[[AudioArray, int], AudioArray] | None = None
        self._flushing = False
        self._started = False
        self._architecture = STTArchitecture.ENCODER_DECODER

        self._started_at = time.monotonic()

    # --- lifecycle ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        self.runtime.store.get(self.config.model)  # fail fast on unknown models
        manifest = self.runtime.store.get(self.config.model).manifest
        self._architecture = STTArchitecture(manifest.architecture or STTArchitecture.ENCODER_DECODER.value)
        self._segments.timestamped_words = manifest.capabilities.word_timestamps
        metrics.stt_active_sessions.inc()
        self._started = True
        self._events.start()
        self.emit("session.created", session_id=self.id, config=self.config.model_dump(mode="json"))
        self._tasks = [
            asyncio.create_task(self._intake.run(self._process_and_judge), name=f"{self.id}-process"),
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
        self.emit(
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
                if self._segments.in_progress:
                    self._decodes.commit(forced=False)
            async with asyncio.timeout(FINAL_FLUSH_LIMIT_S):
                await self._stream.finals_idle.wait()
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
        self._stream.stop()
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
        self.emit(
            "session.closed", reason=reason, duration_s=round(duration, 3), segments=self.finals_emitted
        )
        await self._events.close()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def finals_emitted(self) -> int:
        return self._transcriber.finals_emitted

    # --- events -------------------------------------------------------------------------------------------

    def emit(self, event_type: str, **fields: Any) -> None:
        """Queue an event for the client. Everything the client hears about the call (VAD, engine
        stream, timers, speakers, the agent) goes through this one FIFO, so events leave in the order they
        happened."""
        self._events.emit(event_type, **fields)

    async def deliver(self, event_type: str, **fields: Any) -> None:
        """:meth:`emit`, then wait until the event has been handed to the transport (so audio a speaker
        sends next cannot overtake its own ``tts.speaking_start``). Returns at once after close."""
        await self._events.deliver(event_type, **fields)

    async def wait_events_sent(self) -> None:
        """After close: wait (at most 5 s) until the last event (``session.closed``) has left."""
        await self._events.wait_sent()

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
        if self.input_gate.closed:
            metrics.stt_muted_frames_total.inc()
            return
        if self.input_filter is not None:
            samples = self.input_filter(samples, self.config.sample_rate)
        self._intake.put(samples, self.config.sample_rate)

    async def configure(self, changes: dict[str, Any]) -> None:
        old, merged = self.config, self.config.updated(changes)
        if merged.model != self.config.model:
            if self._segments.in_progress or self._stream.pending:
                raise InvalidRequestError("the model can only change between utterances", param="model")
            self.runtime.store.get(merged.model)
        if merged.sample_rate != self.config.sample_rate:
            self._preprocessor = StreamPreprocessor(merged.sample_rate, self.runtime.settings.preprocessing)
        vad_changed = (merged.vad_sensitivity, merged.min_silence_ms) != (
            self.config.vad_sensitivity,
            self.config.min_silence_ms,
        )
        model_changed = merged.model != self.config.model
        endpointer = endpointer_for(merged, self.runtime.store)  # fails before anything changed
        self.config = merged
        if (merged.endpointing, merged.max_silence_ms) != (old.endpointing, old.max_silence_ms):
            self._endpointer = endpointer
        if vad_changed and not self._segments.in_progress:
            self._vad = self._new_vad()
        if model_changed:
            self._stream.restart()
        self.emit("session.configured", config=self.config.model_dump(mode="json"))

    async def commit(self) -> bool:
        """Commit the audio since the last commit as one segment (``input_audio_buffer.commit``)."""
        await self._drain_input()
        if not self._segments.in_progress:
            if self.ring.write_offset - self._segments.floor < STT_SAMPLE_RATE // 10:
                return False
            self._decodes.begin_segment(self._segments.floor, announce=False)
        self._decodes.commit(forced=False)
        if self._vad.speaking:
            # Committed mid-speech: the words still being said belong to the next segment (VAD will not
            # announce a new speech start for them), as after a forced commit.
            self._decodes.begin_segment(self._segments.floor, announce=False, continues=True)
        return True

    async def clear(self) -> None:
        """Discard uncommitted audio (``input_audio_buffer.clear``)."""
        await self._drain_input()
        self._segments.clear()
        self._transcriber.partial.reset()
        self._vad = self._new_vad()
        self._stream.send(StreamChunk(np.zeros(0, np.float32), reset=True))
        self.emit("input_audio_buffer.cleared")

    # --- processing ---------------------------------------------------------------------------------------

    def _new_vad(self) -> VoiceActivityDetector:
        model_path: Path | None = None
        if self.runtime.store.is_installed("silero-vad"):
            model_path = self.runtime.store.get("silero-vad").path / "silero_vad.onnx"
        return VoiceActivityDetector(
            self.config.vad_sensitivity, min_silence_ms=self.config.min_silence_ms, model_path=model_path
        )

    async def _drain_input(self) -> None:
        await self._intake.drained()

    def _process(self, raw: AudioArray) -> None:
        samples = self._preprocessor.process(raw)
        if not len(samples):
            return
        if self.ring.uncommitted + len(samples) > self.ring.capacity:
            # The client stopped committing and VAD heard no end: commit to make room (never overwrite).
            self._decodes.force_commit()
        self.ring.write(samples)
        if self.state.state == SessionState.INIT:
            self.state.transition(SessionState.SILENCE)  # audio is flowing; INIT's "no audio" timeout is over
        for event in self._vad.process(samples):
            metrics.stt_vad_events_total.labels(event.kind).inc()
            if event.kind == "speech_start":
                self._on_speech_start(event.offset)
            elif event.kind == "speech_confirmed":  # long enough not to be a cough: a barge-in may act
                self.emit("vad.speech_confirmed", timestamp_ms=ms(event.offset), segment_id=self._segments.id)
            else:
                self._on_speech_end(event.offset)
        if (pause := self._endpointer.overdue(self.ring.write_offset, self._vad.speaking)) is not None:
            self._decodes.commit_turn(pause)  # an incomplete turn's silence reached max_silence_ms
        self._decodes.after_audio(self._vad)

    async def _process_and_judge(self, raw: AudioArray) -> None:
        self._process(raw)
        start = self._segments.start
        if start is None or not (
            judged := await self._endpointer.judge(lambda end: self.ring.read(start, end))
        ):
            return
        pause, probability = judged
        complete = probability >= COMPLETE
        self.emit(
            "vad.turn_prediction",
            segment_id=self._segments.id,
            probability=round(probability, 3),
            complete=complete,
        )
        if complete:
            self._decodes.commit_turn(pause)

    def _on_speech_start(self, offset: int) -> None:
        self.state.transition(SessionState.ACTIVE)
        self._endpointer.resumed()
        self._transcriber.speech_started()
        if not self._segments.in_progress:
            start, continues = self._segments.speech_start(offset, self.config.preroll_ms * 16)
            self._decodes.begin_segment(start, announce=True, continues=continues)
        self.emit("vad.speech_start", timestamp_ms=ms(offset), segment_id=self._segments.id)

    def _on_speech_end(self, offset: int) -> None:
        self.state.transition(SessionState.SILENCE)
        self._decodes.speech_ended()
        self._segments.last_speech_end = offset
        self.emit("vad.speech_end", timestamp_ms=ms(offset), segment_id=self._segments.id)
        if self.config.turn_detection and self._segments.in_progress:
            if self._endpointer.smart:
                self._endpointer.paused(offset)  # the model decides (_process_and_judge)
            else:
                self._decodes.commit_turn(offset)

    def _options(self) -> TranscribeOptions:
        return transcribe_options(self.config, self._architecture, self._transcriber.context)

    # --- engine stream --------------------------------------------------------------------------------------

    async def _worker_loop(self) -> None:
        if await self._stream.run(lambda: self.config.model, self._options, self._on_partial, self._on_final):
            await self._shutdown("error")

    async def _on_partial(self, hypothesis: StreamHypothesis) -> None:
        if not self.config.partials:
            return  # an early final's decode, answered while the turn goes on
        stable = self._architecture != STTArchitecture.ENCODER_DECODER
        await self._transcriber.on_partial(hypothesis, stable=stable)

    async def _on_final(self, pending: PendingFinal, hypothesis: StreamHypothesis) -> None:
        if hypothesis.prepared:
            metrics.stt_early_finals_total.labels("used").inc()
        await self._transcriber.on_final(pending, hypothesis, self.config)

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

    def _on_state_change(self, old: SessionState, new: SessionState) -> None:
        self.emit("session.state_changed", previous=old.value, state=new.value)
        if new == SessionState.HOLD:
            self.emit("session.hold")
