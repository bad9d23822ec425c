"""Speech synthesis shared by ``POST /v1/audio/speech``, ``theo speak`` and realtime sessions.

validate the request → pick the model (OpenAI names fall back to what is installed) → stream PCM16
chunks from the model's worker subprocess. :meth:`SpeechService.open` returns only once the first
chunk has arrived, so an unknown voice or a dead worker is still an HTTP error status, not a broken
audio stream.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field

from theo_rtc.backends.discovery import available_engines
from theo_rtc.backends.types import AudioChunk, VoiceInfo
from theo_rtc.config import TheoSettings
from theo_rtc.errors import InvalidRequestError, ModelNotFoundError, WorkerUnavailableError
from theo_rtc.observability import metrics
from theo_rtc.registry.aliases import OpenAIModelKind, openai_kind
from theo_rtc.registry.manifest import ModelManifest
from theo_rtc.registry.store import ModelStore
from theo_rtc.scheduler import Priority
from theo_rtc.tts.encode import PCM_SAMPLE_RATE, RESPONSE_FORMATS
from theo_rtc.tts.streaming import MAX_SPEED, MIN_SPEED
from theo_rtc.tts.text import sanitize_text
from theo_rtc.workers.manager import WorkerManager

log = logging.getLogger("theo.tts")

MAX_INPUT_CHARS = 4096
"""OpenAI's limit on ``input``; longer text must be split by the caller."""

FALLBACK_MODELS = ("kokoro-82m", "piper-en-joe", "espeak-ng")
"""Best first: natural multilingual Kokoro, fast English Piper (optional GPL plugin), then espeak-ng,
which is built in and needs no download, so an alias always resolves when espeak-ng is on the system."""


def is_alias(model: str) -> bool:
    """An OpenAI text-to-speech name (``tts-1``, ``gpt-4o-mini-tts-2025-12-15``, ...), answered by the best
    installed model (the table is ``theo_rtc.registry.aliases``)."""
    return openai_kind(model) is OpenAIModelKind.SPEECH


@dataclass(frozen=True, slots=True)
class SpeechRequest:
    model: str
    input: str
    voice: str = ""  # "" = the engine's default voice
    response_format: str = "mp3"
    speed: float = 1.0
    language: str | None = None  # only steers OpenAI voice names; native voices speak their own language
    sample_rate: int = 0  # for callers consuming PCM chunks directly; 0 = the engine's own rate


@dataclass(frozen=True, slots=True)
class ModelVoices:
    model: str
    engine: str
    voices: list[VoiceInfo] = field(default_factory=list)
    error: str | None = None  # the model's worker could not start (e.g. espeak-ng not installed)


class SpeechStream:
    """An open synthesis whose first chunk has already arrived; iterate it for every chunk, in order.

    Holds a slot on the model's worker until iterated to the end or closed with :meth:`aclose`.
    """

    def __init__(
        self,
        model: str,
        first: AudioChunk | None,
        rest: AsyncIterator[AudioChunk],
        *,
        sample_rate: int,
        characters: int,
    ) -> None:
        self.model = model
        self.sample_rate = first.sample_rate if first is not None else sample_rate
        self.audio_seconds = 0.0
        self._first = first
        self._rest = rest
        self._characters = characters
        self._done = False

    async def __aiter__(self) -> AsyncGenerator[AudioChunk, None]:
        status = "error"
        try:
            if self._first is not None:
                first, self._first = self._first, None
                self.audio_seconds += first.duration
                yield first
                async for chunk in self._rest:
                    self.audio_seconds += chunk.duration
                    yield chunk
            status = "ok"
        except (GeneratorExit, asyncio.CancelledError):
            status = "cancelled"  # the consumer stopped early (client disconnected)
            raise
        finally:
            await self._finish(status)

    async def aclose(self) -> None:
        await self._finish("cancelled")

    async def _finish(self, status: str) -> None:
        if self._done:
            return
        self._done = True
        aclose = getattr(self._rest, "aclose", None)
        if aclose is not None:
            await aclose()  # releases the worker slot and cancels the gRPC call
        metrics.tts_requests_total.labels(self.model, status).inc()
        metrics.tts_audio_seconds_total.labels(self.model).inc(self.audio_seconds)
        metrics.tts_characters_total.labels(self.model).inc(self._characters)


class SpeechService:
    def __init__(self, settings: TheoSettings, store: ModelStore, workers: WorkerManager) -> None:
        self.settings = settings
        self.store = store
        self.workers = workers
        self._voices: dict[str, ModelVoices] = {}

    def resolve_model(self, name: str) -> str:
        """The installed model that serves ``name``: itself, or for OpenAI aliases the best available."""
        if not is_alias(name):
            return name
        engines = set(available_engines("tts"))
        for candidate in FALLBACK_MODELS:
            if self.store.is_installed(candidate) and self._manifest(candidate).engine in engines:
                return candidate
        raise ModelNotFoundError(
            f"no text-to-speech model is available for {name!r}; run `theo pull kokoro-82m` "
            "(or install espeak-ng for the built-in fallback)",
            param="model",
        )

    def status(self) -> str:
        """For /health: which model answers ``tts-1`` (no worker is started to find out)."""
        try:
            return f"ok ({self.resolve_model('tts-1')})"
        except ModelNotFoundError:
            return "unavailable: no TTS model or engine installed"

    def validate(self, request: SpeechRequest) -> str:
        """Check everything that can be checked without a worker; returns the resolved model name."""
        if not request.model:
            raise InvalidRequestError("missing required parameter: model", param="model")
        if len(request.input) > MAX_INPUT_CHARS:
            raise InvalidRequestError(
                f"input is {len(request.input)} characters; the maximum is {MAX_INPUT_CHARS}. "
                "Split longer text into several requests.",
                param="input",
                code="string_above_max_length",
            )
        if not sanitize_text(request.input):
            raise InvalidRequestError(
                "input has nothing to speak (it is empty, or only markup, emoji or punctuation)",
                param="input",
            )
        if request.response_format not in RESPONSE_FORMATS:
            raise InvalidRequestError(
                f"unsupported response_format {request.response_format!r}; use one of "
                f"{', '.join(RESPONSE_FORMATS)}",
                param="response_format",
            )
        if not (math.isfinite(request.speed) and MIN_SPEED <= request.speed <= MAX_SPEED):
            raise InvalidRequestError(
                f"speed must be between {MIN_SPEED} and {MAX_SPEED} (got {request.speed})", param="speed"
            )
        if not 0 <= request.sample_rate <= 192_000:
            raise InvalidRequestError("sample_rate must be between 0 and 192000", param="sample_rate")
        model = self.resolve_model(request.model)
        kind = self._manifest(model).type  # unknown model -> 404
        if kind != "tts":
            raise InvalidRequestError(f"model {model!r} is a {kind} model, not text-to-speech", param="model")
        return model

    def _manifest(self, model: str) -> ModelManifest:
        # A running worker already holds the manifest: skip re-reading theo.yaml (~1 ms) per request.
        running = self.workers.get_running(model)
        return running.model.manifest if running is not None else self.store.get(model).manifest

    async def open(self, request: SpeechRequest, *, priority: Priority = Priority.BATCH) -> SpeechStream:
        """Validate, start synthesis and wait for its first chunk.

        HTTP requests run at BATCH priority: realtime sessions (a caller waiting on a voice agent's
        reply) are admitted first when a TTS worker is saturated; HTTP audio still streams as soon as
        it holds a slot.
        """
        started = time.perf_counter()
        model = self.validate(request)
        client = await self.workers.tts(model)
        chunks = client.synthesize(
            request.input,
            request.voice,
            speed=request.speed,
            language=request.language,
            sample_rate=request.sample_rate,
            priority=priority,
        )
        try:
            first = await anext(chunks, None)
        except BaseException:
            await chunks.aclose()  # type: ignore[attr-defined]
            metrics.tts_requests_total.labels(model, "error").inc()
            raise
        metrics.tts_ttfb_seconds.labels(model).observe(time.perf_counter() - started)
        return SpeechStream(
            model,
            first,
            chunks,
            sample_rate=request.sample_rate or PCM_SAMPLE_RATE,  # only used if there was no audio at all
            characters=len(request.input),
        )

    async def voices(self, model: str | None = None) -> list[ModelVoices]:
        """Voices per TTS model (all installed and built-in ones, or just ``model``).

        Voices come from the engine, so each model's worker is started if it is not running yet;
        the answer is cached for the life of the runtime.
        """
        if model is not None:
            names = [self.resolve_model(model)]
        else:
            engines = set(available_engines("tts"))
            installed = [m.name for m in self.store.list() if m.manifest.type == "tts"]
            names = [
                n
                for n in dict.fromkeys([*installed, *self.store.builtin()])
                if self.store.get(n).manifest.engine in engines
            ]
        result = []
        for name in names:
            cached = self._voices.get(name)
            if cached is None:
                manifest = self.store.get(name).manifest
                if manifest.type != "tts":
                    raise InvalidRequestError(
                        f"model {name!r} is a {manifest.type} model, not text-to-speech", param="model"
                    )
                try:
                    client = await self.workers.tts(name)
                    cached = ModelVoices(name, manifest.engine, await client.voices())
                except WorkerUnavailableError as exc:
                    if model is not None:
                        raise
                    # One broken model should not hide the others' voices; it is not cached.
                    result.append(ModelVoices(name, manifest.engine, error=exc.message))
                    continue
                self._voices[name] = cached
            result.append(cached)
        return result
