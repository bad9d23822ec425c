"""Theo text-to-speech for livekit-agents.

- ``synthesize()``: one ``POST /v1/audio/speech`` with ``response_format=pcm`` (raw s16le mono, 24 kHz),
  read as it streams: Theo sends the first sentence while it renders the next.
- ``stream()``: text pushed token by token (an LLM's output) is cut into sentences, and each sentence is
  one ``POST /v1/audio/speech``. Requests are pipelined: sentence *n + 1* is sent as soon as sentence *n*'s
  first audio has arrived (so it renders while *n* plays, and never competes with *n*'s first audio for the
  CPU), and audio is emitted strictly in order.

Why HTTP per sentence and not ``tts.speak`` on ``WS /v1/realtime``: measured on the same server, the HTTP
request reaches first audio sooner (e.g. Piper 244 ms vs 339 ms on an already-open WebSocket, 456 ms with
the connect), and the realtime protocol speaks one utterance at a time — a new ``tts.speak`` cancels the
one playing and ``tts.speaking_end`` comes only after real-time playback — so sentence *n + 1* could not be
rendered while *n* plays. A realtime session is also an STT session (model, VAD, a 30 s no-audio timeout)
that a TTS-only stream does not need.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
from livekit import rtc
from livekit.agents import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions, tokenize, tts, utils
from livekit.agents.types import NOT_GIVEN, NotGivenOr, TimedString

from ._api import HTTPSessionOwner, headers, map_errors, retrieve_exception, status_error
from .models import TTS_PCM_SAMPLE_RATE, TTSModels, TTSOptions, TTSVoices


class TTS(tts.TTS):
    def __init__(
        self,
        *,
        base_url: NotGivenOr[str] = NOT_GIVEN,
        model: NotGivenOr[TTSModels | str] = NOT_GIVEN,
        voice: NotGivenOr[TTSVoices | str] = NOT_GIVEN,
        speed: NotGivenOr[float] = NOT_GIVEN,
        sample_rate: NotGivenOr[int] = NOT_GIVEN,
        language: NotGivenOr[str] = NOT_GIVEN,
        api_key: NotGivenOr[str] = NOT_GIVEN,
        tokenizer: NotGivenOr[tokenize.SentenceTokenizer] = NOT_GIVEN,
        http_session: aiohttp.ClientSession | None = None,
    ) -> None:
        """Theo TTS.

        Args:
            base_url: Theo server, default ``$THEO_BASE_URL`` or ``http://127.0.0.1:8000``.
            model: ``kokoro-82m``, ``piper-en-joe``, ``espeak-ng``, or ``tts-1`` (the best installed one).
            voice: OpenAI name (``nova``, ``onyx``, ...) or a native voice id (``af_heart``, ``pf_dora``);
                default: the model's.
            speed: 0.25-4.0 (engines clamp to their own range).
            sample_rate: rate of the emitted frames; Theo's PCM is 24 kHz, other rates are resampled here.
            language: Theo extra, the language OpenAI voice names map for (``pt``, ``en``).
            api_key: sent as ``Authorization: Bearer`` (default ``$THEO_API_KEY``).
            tokenizer: sentence splitter for ``stream()``; default blingfire.
            http_session: an aiohttp session to use; default: the job's, or one of the plugin's own.
        """
        opts = TTSOptions.from_given(
            base_url=base_url,
            model=model,
            voice=voice,
            speed=speed,
            sample_rate=sample_rate,
            language=language,
            api_key=api_key,
        )
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=True, aligned_transcript=True),
            sample_rate=opts.sample_rate,
            num_channels=1,
        )
        self._opts = opts
        self._tokenizer = tokenizer or tokenize.blingfire.SentenceTokenizer(retain_format=True)
        self._http = HTTPSessionOwner(http_session)
        self._streams: weakref.WeakSet[SynthesizeStream] = weakref.WeakSet()

    @property
    def model(self) -> str:
        return self._opts.model

    @property
    def provider(self) -> str:
        return "Theo"

    @property
    def options(self) -> TTSOptions:
        return self._opts

    def update_options(
        self,
        *,
        model: NotGivenOr[TTSModels | str] = NOT_GIVEN,
        voice: NotGivenOr[TTSVoices | str] = NOT_GIVEN,
        speed: NotGivenOr[float] = NOT_GIVEN,
        language: NotGivenOr[str] = NOT_GIVEN,
    ) -> None:
        """Change options for the next requests (sentences already sent keep theirs)."""
        self._opts = self._opts.replace(model=model, voice=voice, speed=speed, language=language)

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> ChunkedStream:
        return ChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    def stream(self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS) -> SynthesizeStream:
        stream = SynthesizeStream(tts=self, conn_options=conn_options)
        self._streams.add(stream)
        return stream

    async def aclose(self) -> None:
        for stream in list(self._streams):
            await stream.aclose()
        self._streams.clear()
        await self._http.aclose()

    async def _speech_pcm(self, text: str, opts: TTSOptions, read_timeout_s: float) -> AsyncIterator[bytes]:
        """PCM16 mono at ``opts.sample_rate`` as ``POST /v1/audio/speech`` streams it (whole samples only)."""
        payload: dict[str, object] = {
            "model": opts.model,
            "input": text,
            "response_format": "pcm",
            "speed": opts.speed,
        }
        if opts.voice:
            payload["voice"] = opts.voice
        if opts.language:
            payload["language"] = opts.language
        # No total limit (a paragraph streams for as long as it speaks); each read waits at most the timeout.
        client_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=read_timeout_s, sock_read=read_timeout_s
        )
        with map_errors("theo speech"):
            async with self._http.get().post(
                f"{opts.base_url}/v1/audio/speech",
                json=payload,
                headers=headers(opts.api_key),
                timeout=client_timeout,
            ) as resp:
                if resp.status >= 400:
                    raise await status_error(resp)
                rate = _pcm_rate(resp.headers.get("Content-Type", ""))
                resampler = (
                    rtc.AudioResampler(rate, opts.sample_rate, quality=rtc.AudioResamplerQuality.HIGH)
                    if rate != opts.sample_rate
                    else None
                )
                odd = b""
                async for chunk in resp.content.iter_any():
                    data = odd + chunk
                    whole = len(data) & ~1
                    data, odd = data[:whole], data[whole:]
                    if not data:
                        continue
                    if resampler is None:
                        yield data
                        continue
                    frames = resampler.push(rtc.AudioFrame(data, rate, 1, len(data) // 2))
                    if out := b"".join(f.data.tobytes() for f in frames):
                        yield out
                if resampler is not None and (out := b"".join(f.data.tobytes() for f in resampler.flush())):
                    yield out


def _pcm_rate(content_type: str) -> int:
    """Theo documents pcm as 24 kHz; honour a ``rate=`` parameter should a server ever send one."""
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "rate" and value.isdigit():
            return int(value)
    return TTS_PCM_SAMPLE_RATE


class ChunkedStream(tts.ChunkedStream):
    def __init__(self, *, tts: TTS, input_text: str, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._tts: TTS = tts
        self._opts = tts.options

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        output_emitter.initialize(
            request_id=utils.shortuuid(),
            sample_rate=self._opts.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
        )
        async for pcm in self._tts._speech_pcm(self._input_text, self._opts, self._conn_options.timeout):
            output_emitter.push(pcm)
        output_emitter.flush()


@dataclass(eq=False)
class _Sentence:
    token: str  # as the tokenizer cut it, spacing kept (the transcript the agent shows)
    text: str  # what is synthesized
    audio: utils.aio.Chan[bytes] = field(default_factory=utils.aio.Chan)
    started: asyncio.Event = field(default_factory=asyncio.Event)  # first audio arrived, or it failed
    task: asyncio.Task[None] | None = None


class SynthesizeStream(tts.SynthesizeStream):
    def __init__(self, *, tts: TTS, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, conn_options=conn_options)
        self._tts: TTS = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        opts = self._tts.options
        output_emitter.initialize(
            request_id=utils.shortuuid(),
            sample_rate=opts.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
            stream=True,
        )
        output_emitter.start_segment(segment_id=utils.shortuuid())
        sentences = self._tts._tokenizer.stream()
        queue: asyncio.Queue[_Sentence | None] = asyncio.Queue()
        started: list[_Sentence] = []

        async def forward_input() -> None:
            async for data in self._input_ch:
                if isinstance(data, self._FlushSentinel):
                    sentences.flush()
                else:
                    sentences.push_text(data)
            sentences.end_input()

        async def fetch(sentence: _Sentence) -> None:
            try:
                async for pcm in self._tts._speech_pcm(sentence.text, opts, self._conn_options.timeout):
                    sentence.audio.send_nowait(pcm)
                    sentence.started.set()
            finally:
                sentence.started.set()
                sentence.audio.close()

        async def schedule() -> None:
            previous: _Sentence | None = None
            async for token in sentences:
                if not (text := token.token.strip()):
                    continue
                if previous is not None:
                    # Pipelining: the next request goes out once the previous one has its first audio.
                    await previous.started.wait()
                sentence = _Sentence(token=token.token, text=text)
                self._mark_started()
                sentence.task = asyncio.create_task(fetch(sentence), name="theo.SynthesizeStream.fetch")
                sentence.task.add_done_callback(retrieve_exception)
                started.append(sentence)
                queue.put_nowait(sentence)
                previous = sentence
            queue.put_nowait(None)

        async def emit() -> None:
            duration = 0.0
            while (sentence := await queue.get()) is not None:
                output_emitter.push_timed_transcript(TimedString(sentence.token, start_time=duration))
                async for pcm in sentence.audio:
                    output_emitter.push(pcm)
                    duration += len(pcm) / 2 / opts.sample_rate
                assert sentence.task is not None
                await sentence.task  # a failed request raises here, in order
                output_emitter.flush()

        tasks = [
            asyncio.create_task(forward_input(), name="theo.SynthesizeStream.input"),
            asyncio.create_task(schedule(), name="theo.SynthesizeStream.schedule"),
            asyncio.create_task(emit(), name="theo.SynthesizeStream.emit"),
        ]
        for task in tasks:
            task.add_done_callback(retrieve_exception)
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
            await asyncio.gather(*tasks)
        finally:
            await utils.aio.cancel_and_wait(*tasks, *(s.task for s in started if s.task is not None))
            with contextlib.suppress(Exception):
                await sentences.aclose()

    async def aclose(self) -> None:
        await super().aclose()
        self._tts._streams.discard(self)
