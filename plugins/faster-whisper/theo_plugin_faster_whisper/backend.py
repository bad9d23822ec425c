"""Whisper through faster-whisper. Loads only from a local directory: a size name would hit the Hub."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.transcribe import Segment as FWSegment

from theo_rtc.backends import (
    STT_SAMPLE_RATE,
    AudioArray,
    BatchTranscription,
    EngineCapabilities,
    HealthStatus,
    StreamChunk,
    StreamHypothesis,
    STTArchitecture,
    STTBackend,
    Task,
    TranscribeOptions,
    TranscriptionInfo,
    TranscriptSegment,
    Word,
)

_DONE = object()


class FasterWhisperBackend(STTBackend):
    engine: ClassVar[str] = "faster-whisper"
    architecture: ClassVar[STTArchitecture] = STTArchitecture.ENCODER_DECODER

    def __init__(self) -> None:
        self._model: WhisperModel | None = None
        self._config: Mapping[str, Any] = {}
        self._multilingual = True
        # CTranslate2 runs one decode at a time per model replica; serialise to keep latency predictable.
        self._lock = threading.Lock()

    async def load(self, model_path: Path, config: Mapping[str, Any]) -> None:
        if not (model_path / "model.bin").is_file():
            raise FileNotFoundError(f"{model_path} has no model.bin (is the model installed?)")
        self._config = dict(config)
        self._model = await asyncio.to_thread(
            WhisperModel,
            str(model_path),
            device=str(config.get("device", "cpu")),
            compute_type=str(config.get("compute_type", "int8")),
            cpu_threads=int(config.get("cpu_threads", 0)),
            local_files_only=True,
        )
        self._multilingual = bool(self.model.model.is_multilingual)

    def capabilities(self) -> EngineCapabilities:
        return EngineCapabilities(
            streaming=True,
            languages=("auto",) if self._multilingual else ("en",),
            word_timestamps=True,
            translation=self._multilingual,
            partial_transcripts=True,
            hot_words=True,
        )

    @property
    def model(self) -> WhisperModel:
        if self._model is None:
            raise RuntimeError("model not loaded")
        return self._model

    def _kwargs(self, options: TranscribeOptions) -> dict[str, Any]:
        language = options.language or None
        if not self._multilingual:
            language = "en"  # English-only checkpoints reject other codes
        kwargs: dict[str, Any] = {
            "language": language,
            "task": options.task.value if self._multilingual else Task.TRANSCRIBE.value,
            "beam_size": options.beam_size or int(self._config.get("beam_size", 5)),
            "temperature": options.temperature if options.temperature > 0 else [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
            "initial_prompt": options.initial_prompt or None,
            "word_timestamps": options.word_timestamps,
            "vad_filter": False,  # VAD runs in the runtime (ADR-003)
        }
        if options.hot_words:
            kwargs["hotwords"] = " ".join(options.hot_words)
        return kwargs

    async def transcribe_file(self, audio: AudioArray, options: TranscribeOptions) -> BatchTranscription:
        kwargs = self._kwargs(options)

        def start() -> tuple[Iterator[FWSegment], Any]:
            with self._lock:
                return self.model.transcribe(audio, **kwargs)

        segments, info = await asyncio.to_thread(start)
        return BatchTranscription(
            info=TranscriptionInfo(info.language, float(info.language_probability), float(info.duration)),
            segments=self._drain(segments),
        )

    async def _drain(self, segments: Iterator[FWSegment]) -> AsyncIterator[TranscriptSegment]:
        # faster-whisper decodes lazily while the generator is consumed: pull it in a thread, one segment
        # at a time, so the event loop (and the gRPC stream) stays responsive.
        iterator = iter(segments)

        def step() -> Any:
            with self._lock:
                return next(iterator, _DONE)

        index = 0
        while (segment := await asyncio.to_thread(step)) is not _DONE:
            yield _convert(index, segment)
            index += 1

    async def transcribe_stream(self, chunks: AsyncIterator[StreamChunk]) -> AsyncIterator[StreamHypothesis]:
        window = np.zeros(0, dtype=np.float32)
        options = TranscribeOptions(word_timestamps=True)
        prepared: StreamHypothesis | None = None  # a final-quality decode of exactly this window
        async for chunk in chunks:
            if chunk.options is not None:
                options = chunk.options
            if chunk.reset or len(chunk.audio) or chunk.options is not None:
                prepared = None
            if chunk.reset:
                window = np.zeros(0, dtype=np.float32)
            if len(chunk.audio):
                window = np.concatenate([window, chunk.audio])
            if chunk.commit and prepared is not None:
                yield dataclasses.replace(prepared, is_final=True, prepared=True)  # decoded in the pause
            elif chunk.answered:
                hypothesis = await self._decode_window(window, options, final_quality=not chunk.decode)
                if chunk.prepare:
                    prepared = hypothesis
                yield dataclasses.replace(hypothesis, is_final=chunk.commit)
            if chunk.commit:
                window, prepared = np.zeros(0, dtype=np.float32), None

    async def _decode_window(
        self, window: AudioArray, options: TranscribeOptions, *, final_quality: bool
    ) -> StreamHypothesis:
        seconds = len(window) / STT_SAMPLE_RATE
        if len(window) < STT_SAMPLE_RATE // 10:
            return StreamHypothesis(is_final=final_quality, text="", words=(), window_seconds=seconds)
        # Live windows get one greedy-or-beam pass at a fixed temperature and a token budget that fits the
        # window: temperature fallback on a looping hypothesis (digit strings do this) costs seconds.
        kwargs = self._kwargs(options) | {
            "word_timestamps": True,
            "condition_on_previous_text": False,
            "temperature": options.temperature,
            "max_new_tokens": int(seconds * 12) + 16,
        }
        if not final_quality:
            kwargs["beam_size"] = 1  # partials favour speed; the final pass uses the configured beam

        def run() -> tuple[list[FWSegment], Any] | None:
            # Finals and batch requests queue for the model; a partial only runs on an idle model. Under load
            # partials are shed (the session shows the next one) so finals never wait behind them.
            if not self._lock.acquire(blocking=final_quality):
                return None
            try:
                segments, info = self.model.transcribe(window, **kwargs)
                return list(segments), info
            finally:
                self._lock.release()

        decoded = await asyncio.to_thread(run)
        if decoded is None:
            return StreamHypothesis(is_final=False, text="", words=(), window_seconds=seconds)
        segments, info = decoded
        words = tuple(
            Word(w.word, float(w.start), float(w.end), float(w.probability))
            for s in segments
            for w in (s.words or [])
        )
        text = "".join(s.text for s in segments).strip()
        logprob = float(np.mean([s.avg_logprob for s in segments])) if segments else 0.0
        no_speech = float(max((s.no_speech_prob for s in segments), default=0.0))
        return StreamHypothesis(final_quality, text, words, seconds, info.language, logprob, no_speech)

    async def unload(self) -> None:
        self._model = None

    async def health(self) -> HealthStatus:
        return HealthStatus(
            "ok" if self._model is not None else "loading", {"multilingual": str(self._multilingual)}
        )


def _convert(index: int, segment: FWSegment) -> TranscriptSegment:
    return TranscriptSegment(
        id=index,
        start=float(segment.start),
        end=float(segment.end),
        text=segment.text,
        tokens=tuple(segment.tokens),
        avg_logprob=float(segment.avg_logprob),
        compression_ratio=float(segment.compression_ratio),
        no_speech_prob=float(segment.no_speech_prob),
        temperature=float(segment.temperature or 0.0),
        words=tuple(
            Word(w.word, float(w.start), float(w.end), float(w.probability)) for w in (segment.words or [])
        ),
    )
