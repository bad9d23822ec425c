"""Theo speech-to-text for livekit-agents.

- ``recognize()`` (batch): ``POST /v1/audio/transcriptions`` with the buffer as WAV, ``verbose_json``.
- ``stream()``: ``WS /v1/realtime`` in Theo's protocol (``stt_stream.SpeechStream``).
"""

from __future__ import annotations

import math
import weakref

import aiohttp
from livekit import rtc
from livekit.agents import (
    DEFAULT_API_CONNECT_OPTIONS,
    APIConnectOptions,
    stt,
    utils,
)
from livekit.agents.language import LanguageCode
from livekit.agents.types import NOT_GIVEN, NotGivenOr
from livekit.agents.utils import AudioBuffer, is_given

from ._api import HTTPSessionOwner, headers, map_errors, status_error
from .models import STTModels, STTOptions
from .stt_stream import SpeechStream


class STT(stt.STT):
    def __init__(
        self,
        *,
        base_url: NotGivenOr[str] = NOT_GIVEN,
        model: NotGivenOr[STTModels | str] = NOT_GIVEN,
        language: NotGivenOr[str] = NOT_GIVEN,
        api_key: NotGivenOr[str] = NOT_GIVEN,
        hot_words: NotGivenOr[list[str]] = NOT_GIVEN,
        sample_rate: NotGivenOr[int] = NOT_GIVEN,
        http_session: aiohttp.ClientSession | None = None,
    ) -> None:
        """Theo STT.

        Args:
            base_url: Theo server, default ``$THEO_BASE_URL`` or ``http://127.0.0.1:8000``.
            model: installed STT model (``whisper-tiny.en``, ``whisper-base``, ...).
            language: ISO code; default: the model's (``.en`` models) or detected.
            api_key: sent as ``Authorization: Bearer`` (default ``$THEO_API_KEY``); Theo ignores it, a proxy
                in front of it may not.
            hot_words: words to bias and correct towards (names, products).
            sample_rate: rate of the PCM sent on the WebSocket (pushed frames are resampled to it).
            http_session: an aiohttp session to use; default: the job's, or one of the plugin's own.
        """
        super().__init__(
            capabilities=stt.STTCapabilities(
                streaming=True,
                interim_results=True,
                aligned_transcript="word",
                offline_recognize=True,
            )
        )
        self._opts = STTOptions.from_given(
            base_url=base_url,
            model=model,
            language=language,
            api_key=api_key,
            hot_words=hot_words,
            sample_rate=sample_rate,
        )
        self._http = HTTPSessionOwner(http_session)
        self._streams: weakref.WeakSet[SpeechStream] = weakref.WeakSet()

    @property
    def model(self) -> str:
        return self._opts.model

    @property
    def provider(self) -> str:
        return "Theo"

    @property
    def options(self) -> STTOptions:
        return self._opts

    def update_options(
        self,
        *,
        model: NotGivenOr[STTModels | str] = NOT_GIVEN,
        language: NotGivenOr[str] = NOT_GIVEN,
        hot_words: NotGivenOr[list[str]] = NOT_GIVEN,
    ) -> None:
        """Change options for new requests and for open streams (sent as ``session.configure``; Theo
        applies a model change between utterances)."""
        self._opts = self._opts.replace(model=model, language=language, hot_words=hot_words)
        for stream in self._streams:
            stream.update_options(model=model, language=language, hot_words=hot_words)

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        opts = self._opts
        lang = language if is_given(language) else opts.language
        frame = rtc.combine_audio_frames(buffer)
        form = aiohttp.FormData()
        form.add_field("file", frame.to_wav_bytes(), filename="audio.wav", content_type="audio/wav")
        form.add_field("model", opts.model)
        form.add_field("response_format", "verbose_json")
        if lang:
            form.add_field("language", lang)
        if opts.hot_words:
            form.add_field("hot_words", ",".join(opts.hot_words))
        # Batch transcription answers when it is done: allow the connect timeout plus real time.
        timeout = aiohttp.ClientTimeout(
            total=conn_options.timeout + frame.duration, sock_connect=conn_options.timeout
        )
        with map_errors("theo transcription"):
            async with self._http.get().post(
                f"{opts.base_url}/v1/audio/transcriptions",
                data=form,
                headers=headers(opts.api_key),
                timeout=timeout,
            ) as resp:
                if resp.status >= 400:
                    raise await status_error(resp)
                body = await resp.json()
        segments = body.get("segments") or []
        logprobs = [s["avg_logprob"] for s in segments if s.get("avg_logprob") is not None]
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            request_id=utils.shortuuid(),
            alternatives=[
                stt.SpeechData(
                    language=LanguageCode(body.get("language") or lang or ""),
                    text=(body.get("text") or "").strip(),
                    start_time=float(segments[0]["start"]) if segments else 0.0,
                    end_time=float(segments[-1]["end"]) if segments else float(body.get("duration") or 0),
                    confidence=math.exp(sum(logprobs) / len(logprobs)) if logprobs else 0.0,
                )
            ],
        )

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> SpeechStream:
        opts = self._opts.replace(language=language)
        stream = SpeechStream(stt=self, opts=opts, conn_options=conn_options, http=self._http)
        self._streams.add(stream)
        return stream

    async def aclose(self) -> None:
        for stream in list(self._streams):
            await stream.aclose()
        self._streams.clear()
        await self._http.aclose()


__all__ = ["STT", "SpeechStream"]
