"""Batch transcription, shared by the HTTP API and the in-process CLI: decode → preprocess → worker."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from theo_rtc.backends.types import (
    STT_SAMPLE_RATE,
    AudioArray,
    Task,
    TranscribeOptions,
    TranscriptionInfo,
    TranscriptSegment,
)
from theo_rtc.config import TheoSettings
from theo_rtc.errors import InvalidRequestError
from theo_rtc.observability import metrics
from theo_rtc.preprocessing import decode_audio, preprocess
from theo_rtc.registry.aliases import OpenAIModelKind, openai_kind
from theo_rtc.scheduler import Priority
from theo_rtc.workers.manager import WorkerManager

log = logging.getLogger("theo.stt")

MULTILINGUAL_DEFAULT = "whisper-base"  # translation needs a multilingual model; tiny.en is English-only

SegmentRewriter = Callable[[list[TranscriptSegment], "TranscriptionRequest"], list[TranscriptSegment]]
"""Post-processing hook applied to final segments (ITN, entities, hot words)."""


@dataclass(frozen=True, slots=True)
class TranscriptionRequest:
    model: str
    task: Task = Task.TRANSCRIBE
    language: str | None = None
    prompt: str | None = None
    temperature: float = 0.0
    word_timestamps: bool = False
    hot_words: tuple[str, ...] = ()
    postprocess: dict[str, object] = field(default_factory=dict)

    def options(self) -> TranscribeOptions:
        return TranscribeOptions(
            language=self.language,
            task=self.task,
            initial_prompt=self.prompt,
            temperature=self.temperature,
            word_timestamps=self.word_timestamps,
            hot_words=self.hot_words,
        )


@dataclass(frozen=True, slots=True)
class TranscriptionResult:
    info: TranscriptionInfo
    segments: list[TranscriptSegment]
    task: str

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments).strip()


class TranscriptionService:
    def __init__(self, settings: TheoSettings, workers: WorkerManager) -> None:
        self.settings = settings
        self.workers = workers
        self.rewriters: list[SegmentRewriter] = []

    async def load_audio(self, source: bytes | Path) -> AudioArray:
        """Decode and preprocess off the event loop; raises InvalidAudioError/AudioTooLongError."""
        started = time.perf_counter()
        # Resampled to 16 kHz while decoding: memory is bounded by the duration limit, whatever the rate.
        decoded = await asyncio.to_thread(
            decode_audio, source, max_seconds=self.settings.max_audio_seconds, target_rate=STT_SAMPLE_RATE
        )
        audio = await asyncio.to_thread(preprocess, decoded, self.settings.preprocessing)
        metrics.stt_preprocessing_duration_seconds.observe(time.perf_counter() - started)
        log.info(
            "decoded %s audio: %.2f s, %d ch -> 16 kHz mono",
            decoded.source_format,
            decoded.duration,
            decoded.source_channels,
        )
        return audio

    async def segments(
        self, audio: AudioArray, request: TranscriptionRequest
    ) -> AsyncIterator[tuple[TranscriptionInfo, TranscriptSegment | None]]:
        """Yield ``(info, None)`` first, then ``(info, segment)`` for each final, post-processed segment."""
        self.validate(request)
        client = await self.workers.stt(request.model)
        if request.task is Task.TRANSLATE and not client.worker.model.manifest.capabilities.translation:
            raise InvalidRequestError(
                f"model {request.model!r} cannot translate (English-only); use a multilingual model "
                "such as whisper-base",
                param="model",
            )
        async with client.transcribe_file(audio, request.options(), priority=Priority.BATCH) as result:
            info = result.info
            self._observe_language(request, info)
            if "language" not in request.postprocess and info.language:
                # Post-processing needs the spoken language; detection tells us when the client didn't.
                request = replace(request, postprocess={**request.postprocess, "language": info.language})
            yield info, None
            async for segment in result.segments:
                for rewritten in await self.rewrite_async([segment], request):
                    yield info, rewritten

    async def transcribe(self, audio: AudioArray, request: TranscriptionRequest) -> TranscriptionResult:
        started = time.perf_counter()
        status = "error"
        try:
            info: TranscriptionInfo | None = None
            segments: list[TranscriptSegment] = []
            async for seen_info, segment in self.segments(audio, request):
                info = seen_info
                if segment is not None:
                    segments.append(segment)
            assert info is not None
            status = "ok"
            self._observe_quality(request.model, segments, len(audio) / STT_SAMPLE_RATE)
            return TranscriptionResult(info, segments, request.task.value)
        finally:
            endpoint = "translations" if request.task is Task.TRANSLATE else "transcriptions"
            metrics.stt_requests_total.labels(endpoint, request.model, status).inc()
            metrics.stt_request_duration_seconds.labels(endpoint, request.model).observe(
                time.perf_counter() - started
            )

    def resolve_model(self, name: str, task: Task = Task.TRANSCRIBE) -> str:
        """OpenAI's transcription names (``theo_rtc.registry.aliases``) run on the local default, so
        unmodified OpenAI clients just work."""
        if openai_kind(name) is not OpenAIModelKind.TRANSCRIPTION or self.workers.store.is_installed(name):
            return name
        if task is Task.TRANSLATE and self.workers.store.is_installed(MULTILINGUAL_DEFAULT):
            return MULTILINGUAL_DEFAULT
        return self.settings.default_stt_model

    def validate(self, request: TranscriptionRequest) -> None:
        """Reject bad post-processing options before any audio is decoded or sent to a worker."""
        from theo_rtc.postprocessing import PostProcessingOptions

        try:
            PostProcessingOptions.from_mapping(request.postprocess, hot_words=request.hot_words)
        except ValueError as exc:
            raise InvalidRequestError(str(exc), param="domain") from exc

    def rewrite(
        self, segments: list[TranscriptSegment], request: TranscriptionRequest
    ) -> list[TranscriptSegment]:
        """Post-process final segments here, in the calling thread (never call it on the event loop)."""
        for rewriter in self.rewriters:
            segments = rewriter(segments, request)
        return segments

    async def rewrite_async(
        self, segments: list[TranscriptSegment], request: TranscriptionRequest
    ) -> list[TranscriptSegment]:
        """:meth:`rewrite` in a worker thread: ITN, entities and hot words are CPU work that must not hold
        the event loop (every other request and stream waits on it)."""
        if not self.rewriters:
            return segments
        return await asyncio.to_thread(self.rewrite, segments, request)

    def _observe_language(self, request: TranscriptionRequest, info: TranscriptionInfo) -> None:
        if request.language and info.language and request.language.split("-")[0] != info.language:
            metrics.stt_language_detection_mismatches_total.inc()

    def _observe_quality(self, model: str, segments: list[TranscriptSegment], seconds: float) -> None:
        metrics.stt_audio_seconds_total.labels(model).inc(seconds)
        probabilities = [w.probability for s in segments for w in s.words]
        if probabilities:
            metrics.stt_confidence_avg.set(sum(probabilities) / len(probabilities))
        for s in segments:
            if s.no_speech_prob > 0.6:
                metrics.stt_no_speech_segments_total.inc()
