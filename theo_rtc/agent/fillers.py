"""Fillers (issue 10, item 6): when the answer is slow to start, a short sound in the agent's voice ("hmm",
"um momento") tells the caller they were heard, instead of dead air.

The phrases are synthesized once, when the agent starts (and again if its voice changes), with the session's
own TTS, and kept as audio clips: playing one costs nothing when it is needed. A filler is played when no
piece of the answer is ready for speech ``filler_delay_s`` after the turn went to the LLM (a slow first
token, a tool that takes its time); never once the answer's own speech has started, at most once per
answer, and never the same clip twice in a row. It is the first piece of the answer's utterance, so the
answer's audio follows it without a gap, a barge-in stops both, and it is never part of what the agent
"said" (the conversation, ``heard_text``).

Waiting is done by :attr:`Fillers.wait` (``asyncio.sleep`` by default), so a test can decide when the
delay has passed instead of racing the wall clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import numpy as np

from theo_rtc.errors import TheoError
from theo_rtc.runtime import TheoRuntime
from theo_rtc.scheduler import Priority
from theo_rtc.transports.speaker import AudioClip
from theo_rtc.tts.service import SpeechRequest

log = logging.getLogger("theo.agent.fillers")

__all__ = ["FILLER_PHRASES", "Fillers"]

FILLER_PHRASES = {
    "en": ("Hmm.", "One moment."),
    "pt": ("Hmm.", "Um momento."),
}

# Clips rendered for any call, by (model, voice, language, phrase): the same voice says "hmm" the same way
# on every call, so a new call's agent does not synthesize them again. Bounded: voices x phrases.
_RENDERED: OrderedDict[tuple[str, str, str | None, str], AudioClip] = OrderedDict()
_RENDERED_MAX = 64
_SILENCE = 300  # |sample| below this (-40 dBFS) at either end of a clip is trimmed
_PAD_S = 0.03  # kept around the voiced part


class Fillers:
    def __init__(self, runtime: TheoRuntime) -> None:
        self.runtime = runtime
        self.wait: Callable[[float], Awaitable[object]] = asyncio.sleep
        self.clips: list[AudioClip] = []
        self.last: AudioClip | None = None  # the clip played last (never twice in a row)
        self._key: tuple[str, str, str | None, tuple[str, ...]] | None = None
        self._rendering: asyncio.Task[None] | None = None

    def prepare(self, template: SpeechRequest, language: str) -> None:
        """Render the phrases of ``language`` in ``template``'s voice, in the background (once per voice)."""
        phrases = FILLER_PHRASES.get(language[:2], FILLER_PHRASES["en"])
        key = (template.model, template.voice, template.language, phrases)
        if key == self._key:
            return
        self._key = key
        if self._rendering is not None:
            self._rendering.cancel()
        self.clips = []
        self._rendering = asyncio.create_task(self._render(template, phrases), name="agent-fillers")

    async def ready(self) -> None:
        """Return once the clips are rendered (or rendering failed: then there are none)."""
        if self._rendering is not None:
            await asyncio.wait({self._rendering})

    def pick(self) -> AudioClip | None:
        """A clip other than the one played last; None when none is rendered (yet)."""
        choices = [c for c in self.clips if c is not self.last]
        if not choices:
            return None
        self.last = choices[0]
        return self.last

    async def before(
        self,
        pieces: AsyncIterator[str],
        delay_s: float,
        played: Callable[[AudioClip], object],
    ) -> AsyncIterator[str | AudioClip]:
        """``pieces``, preceded by a filler when the first of them is not there within ``delay_s``;
        ``played`` is told which clip went first."""
        first: asyncio.Future[str] = asyncio.ensure_future(_next(pieces))
        try:
            timer: asyncio.Future[Any] = asyncio.ensure_future(self.wait(delay_s))
            either: set[asyncio.Future[Any]] = {first, timer}
            try:
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            finally:
                timer.cancel()
            if not first.done() and (clip := self.pick()) is not None:
                played(clip)
                yield clip
            try:
                piece = await first
            except StopAsyncIteration:
                return
            yield piece
            async for piece in pieces:
                yield piece
        finally:
            if not first.done():
                first.cancel()
                with contextlib.suppress(BaseException):
                    await first
            if hasattr(pieces, "aclose"):
                await pieces.aclose()

    async def aclose(self) -> None:
        if self._rendering is not None and not self._rendering.done():
            self._rendering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rendering

    async def _render(self, template: SpeechRequest, phrases: tuple[str, ...]) -> None:
        clips = []
        for phrase in phrases:
            key = (template.model, template.voice, template.language, phrase)
            clip = _RENDERED.get(key)
            if clip is None:
                try:
                    clip = await self._synthesize(replace(template, input=phrase))
                except TheoError as exc:  # no filler is better than a broken agent
                    log.warning("filler %r not rendered: %s", phrase, exc.message)
                    continue
                if clip is None:
                    continue
                _RENDERED[key] = clip
                while len(_RENDERED) > _RENDERED_MAX:
                    _RENDERED.popitem(last=False)
            _RENDERED.move_to_end(key)
            clips.append(clip)
        self.clips = clips

    async def _synthesize(self, request: SpeechRequest) -> AudioClip | None:
        # BATCH priority: rendering must not delay a call's live speech
        stream = await self.runtime.speech.open(request, priority=Priority.BATCH)
        parts, rate = [], stream.sample_rate
        async for chunk in stream:
            parts.append(chunk.pcm16)
            rate = chunk.sample_rate
        samples = np.frombuffer(b"".join(parts), dtype=np.int16)
        voiced = np.flatnonzero(np.abs(samples.astype(np.int32)) > _SILENCE)
        if not len(voiced):
            return None
        pad = int(_PAD_S * rate)
        trimmed = samples[max(voiced[0] - pad, 0) : voiced[-1] + pad]
        return AudioClip(request.input, trimmed.tobytes(), rate, stream.model)


async def _next(pieces: AsyncIterator[str]) -> str:
    return await anext(pieces)
