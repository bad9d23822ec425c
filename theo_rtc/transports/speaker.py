"""A call's voice (seed §4.11): ``tts.speak`` text is synthesized and played through the call's
:class:`AudioSink`, while the session's input gate is held (mute-on-speak) until the sink says the audio has
*played*, not merely been synthesized: that is when the microphone stops hearing the bot.

One utterance at a time: a new ``tts.speak`` (or ``tts.cancel``) clears the sink and ends the one playing;
``tts.speaking_end`` carries how much of it was actually played. A transport with one voice for several
sessions (a LiveKit room: one published track, a session per remote track) shares one speaker and holds
every session's gate while it speaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from theo_rtc.errors import InvalidRequestError, TheoError
from theo_rtc.runtime import TheoRuntime
from theo_rtc.scheduler import Priority
from theo_rtc.session import InputGate, StreamingSession
from theo_rtc.session.state import SessionState
from theo_rtc.transports.sink import AudioSink, PlaybackResult
from theo_rtc.tts.service import SpeechRequest

log = logging.getLogger("theo.speaker")

__all__ = ["MAX_TEXT", "AudioClip", "Speaker", "SpokenPiece", "SpokenUtterance"]

MAX_TEXT = 4096
# A transport that stops playing (peer gone, track not pulled) must not hold the input gate for ever.
PLAYOUT_GRACE_S = 5.0


class Speaker:
    def __init__(
        self,
        runtime: TheoRuntime,
        session: StreamingSession | None,
        sink: AudioSink,
        *,
        gates: Callable[[], Iterable[InputGate]] | None = None,
    ) -> None:
        """``session``: whose events and defaults a request uses unless it names its own (a shared speaker
        has none); ``gates``: the input gates held while speaking (default: the session's)."""
        self.runtime = runtime
        self.session = session
        self.sink = sink
        if gates is None:
            assert session is not None, "a speaker without a session needs its gates"
            own = session.input_gate
            gates = lambda: (own,)  # noqa: E731
        self._gates = gates
        self._task: asyncio.Task[SpokenUtterance] | None = None

    async def handle(self, message: dict[str, Any], session: StreamingSession | None = None) -> None:
        """Apply a client's ``tts.speak`` or ``tts.cancel``; bad fields raise before anything stops.
        ``session`` is the requester's (its config gives the defaults, its event queue the answers)."""
        if message["type"] == "tts.cancel":
            await self.cancel()
            return
        session = self._session(session)
        request = self._request(message, session)
        self.runtime.speech.validate(request)  # bad model/voice/format: an error event now, not mid-stream
        request_id = str(message.get("request_id") or f"tts_{uuid.uuid4().hex[:12]}")
        await self.speak(request, request_id, session)

    async def speak(
        self, request: SpeechRequest, request_id: str, session: StreamingSession | None = None
    ) -> asyncio.Task[SpokenUtterance]:
        """Interrupt what is playing and start ``request``; the task's result says what was played."""
        return await self.speak_pieces(_one(request), request, request_id, session)

    async def speak_pieces(
        self,
        pieces: AsyncIterator[str] | AsyncIterator[SpeechRequest] | AsyncIterator[str | AudioClip],
        template: SpeechRequest,
        request_id: str,
        session: StreamingSession | None = None,
        *,
        hold_input: bool = True,
        utterance: SpokenUtterance | None = None,
    ) -> asyncio.Task[SpokenUtterance]:
        """Interrupt what is playing and speak ``pieces`` (texts, each synthesized with ``template``'s
        settings, whole requests, or :class:`AudioClip` audio rendered before) as one utterance: one
        ``tts.speaking_start``/``tts.speaking_end``, each piece synthesized while the one before it plays.
        ``hold_input=False`` keeps the microphone open (barge-in: the caller may interrupt). The result
        says which audio span each piece took and how much was played; pass ``utterance`` to keep that
        record when the task is cancelled."""
        await self.cancel()
        session = self._session(session)
        utterance = utterance or SpokenUtterance(request_id)
        self._task = asyncio.create_task(
            self._speak(pieces, template, utterance, session, hold_input), name=f"{session.id}-speak"
        )
        self._task.add_done_callback(self._on_done)
        return self._task

    async def cancel(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def aclose(self) -> None:
        await self.cancel()

    @property
    def speaking(self) -> bool:
        return self._task is not None and not self._task.done()

    def _session(self, session: StreamingSession | None) -> StreamingSession:
        chosen = session or self.session
        if chosen is None:
            raise ValueError("a shared speaker needs the requesting session")
        return chosen

    def _request(self, message: dict[str, Any], session: StreamingSession) -> SpeechRequest:
        config = session.config
        text = message.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InvalidRequestError("tts.speak needs non-empty 'text'", param="text")
        if len(text) > MAX_TEXT:
            raise InvalidRequestError(
                f"'text' is {len(text)} characters; the limit is {MAX_TEXT}", param="text"
            )
        speed = message.get("speed", 1.0)
        if isinstance(speed, bool) or not isinstance(speed, int | float) or not 0.25 <= speed <= 4.0:
            raise InvalidRequestError("'speed' must be a number between 0.25 and 4.0", param="speed")
        for name in ("model", "voice", "language", "request_id"):
            if message.get(name) is not None and not isinstance(message[name], str):
                raise InvalidRequestError(f"'{name}' must be a string", param=name)
        return SpeechRequest(
            model=str(message.get("model") or config.tts_model or "tts-1"),
            input=text,
            voice=str(message.get("voice") or config.tts_voice or ""),
            speed=float(speed),
            language=message.get("language") or config.language,
            sample_rate=self._sample_rate(message.get("sample_rate")),
        )

    @staticmethod
    def _sample_rate(value: Any) -> int:
        if value in (None, 0):
            return 0  # the engine's own rate
        if isinstance(value, bool) or not isinstance(value, int) or not 8_000 <= value <= 192_000:
            raise InvalidRequestError(
                "'sample_rate' must be an integer from 8000 to 192000", param="sample_rate"
            )
        return value

    async def _speak(
        self,
        pieces: AsyncIterator[str] | AsyncIterator[SpeechRequest] | AsyncIterator[str | AudioClip],
        template: SpeechRequest,
        utterance: SpokenUtterance,
        session: StreamingSession,
        hold_input: bool,
    ) -> SpokenUtterance:
        sink = self.sink
        request_id = utterance.request_id
        holds = [gate.hold("tts") for gate in self._gates()] if hold_input else []
        started = time.monotonic()
        audio_s = 0.0
        announced = False
        try:
            async for piece in pieces:
                begin = audio_s
                if isinstance(piece, AudioClip):  # already rendered: played as it is
                    if not announced:
                        await self._announce(session, request_id, piece.model, piece.sample_rate, started)
                        announced = True
                    await sink.capture(piece.pcm16, piece.sample_rate)
                    audio_s += piece.duration_s
                    utterance.pieces.append(SpokenPiece(piece.text, begin, audio_s, clip=True))
                    continue
                request = piece if isinstance(piece, SpeechRequest) else replace(template, input=piece)
                stream = await self.runtime.speech.open(request, priority=Priority.REALTIME)
                if not announced:
                    await self._announce(session, request_id, stream.model, stream.sample_rate, started)
                    announced = True
                async for chunk in stream:
                    await sink.capture(chunk.pcm16, chunk.sample_rate)
                    audio_s += chunk.duration
                utterance.pieces.append(SpokenPiece(request.input, begin, audio_s))
            if not announced:
                return utterance
            sink.flush()
            try:
                utterance.played = await asyncio.wait_for(sink.wait_for_playout(), audio_s + PLAYOUT_GRACE_S)
            except TimeoutError:
                log.warning(
                    "%s: %s did not play out within its duration + %.0f s",
                    session.id,
                    request_id,
                    PLAYOUT_GRACE_S,
                )
            return utterance
        except TheoError as exc:
            session.emit(
                "error", code=exc.code or "tts_error", message=exc.message, param=exc.param, recoverable=True
            )
            return utterance
        finally:
            if hasattr(pieces, "aclose"):  # an LLM stream behind it: stop it now, not at garbage collection
                await pieces.aclose()
            played = utterance.played
            cancelled = played is None or played.interrupted
            if played is None and sink.speaking:  # cancelled, failed or timed out: drop what is queued
                utterance.played = played = sink.clear()
            for hold in holds:
                hold.release()
            if announced:
                session.emit(
                    "tts.speaking_end",
                    request_id=request_id,
                    cancelled=cancelled,
                    audio_ms=round(audio_s * 1000),
                    played_ms=round(played.position_s * 1000) if played else 0,
                    playout="estimated" if sink.estimated else "observed",
                )

    @staticmethod
    async def _announce(
        session: StreamingSession, request_id: str, model: str, sample_rate: int, started: float
    ) -> None:
        await session.deliver(
            "tts.speaking_start",
            request_id=request_id,
            model=model,
            sample_rate=sample_rate,
            first_audio_ms=round((time.monotonic() - started) * 1000),
        )
        if session.state.state == SessionState.INIT:
            # A session used for speech only never sends audio: speaking ends INIT's "no audio" timeout
            # (SILENCE/HOLD's then apply, and they wait while it speaks).
            session.state.transition(SessionState.SILENCE)

    def _on_done(self, task: asyncio.Task[SpokenUtterance]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.warning("%s failed", task.get_name(), exc_info=task.exception())


@dataclass(frozen=True, slots=True)
class AudioClip:
    """Audio rendered before it is needed (the agent's fillers): played as a piece of an utterance, as it
    is; ``text`` says what it is, but it is not part of what the utterance said."""

    text: str
    pcm16: bytes  # mono
    sample_rate: int
    model: str

    @property
    def duration_s(self) -> float:
        return len(self.pcm16) / 2 / self.sample_rate


@dataclass(slots=True)
class SpokenPiece:
    text: str
    start_s: float  # where its audio starts and ends in the utterance
    end_s: float
    clip: bool = False  # an AudioClip: heard, but not part of the utterance's text


@dataclass(slots=True)
class SpokenUtterance:
    """What a speaker said: each piece's place in the audio, and how much of it was played."""

    request_id: str
    pieces: list[SpokenPiece] = field(default_factory=list)
    played: PlaybackResult | None = None

    @property
    def interrupted(self) -> bool:
        return self.played is None or self.played.interrupted

    def said(self, skip: int = 0) -> str:
        """The text of the pieces (clips left out); ``skip``: leave out the first pieces."""
        return " ".join(p.text for p in self.pieces[skip:] if not p.clip)

    def heard(self, skip: int = 0) -> str:
        """The text the listener heard: whole pieces played, and the share of the words of the piece
        playing when it stopped (an estimate: words are taken as evenly spread over the piece's audio).
        ``skip``: leave out the first pieces."""
        if self.played is None:
            return ""
        position = self.played.position_s
        heard = []
        for piece in self.pieces[skip:]:
            if piece.clip:
                if position < piece.end_s - 1e-3:
                    break
                continue
            if position >= piece.end_s - 1e-3:
                heard.append(piece.text)
                continue
            if position > piece.start_s:
                words = piece.text.split()
                share = (position - piece.start_s) / max(piece.end_s - piece.start_s, 1e-6)
                if cut := int(len(words) * share):
                    heard.append(" ".join(words[:cut]) + "…")
            break
        return " ".join(heard)


async def _one(request: SpeechRequest) -> AsyncIterator[SpeechRequest]:
    yield request
