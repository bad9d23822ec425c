"""The voice agent (seed GAP 1, 2, 12): it listens to a call's session, answers each user turn with a
streaming LLM, and speaks the answer piece by piece through the call's speaker while the rest is written.

Transport-agnostic: it sees the session's events (``transcript.final``, ``vad.speech_start``,
``tts.speaking_start``) and speaks through a :class:`Speaker`, so the same agent runs on the WebSocket, the
WebRTC peer and LiveKit rooms. What it adds to the session's one ordered event stream:

- ``agent.state``: ``listening`` → ``thinking`` (a turn went to the LLM) → ``speaking`` (its audio began)
- ``agent.response.text.delta``: each piece of the answer as it goes to TTS
- ``agent.response.text.done``: the whole answer, what was heard of it, whether it was interrupted
- ``agent.interrupted``: the caller talked over the answer (``heard_text``, ``played_ms``)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from theo_rtc.agent.chunker import SentenceChunker
from theo_rtc.agent.conversation import Conversation
from theo_rtc.agent.llm import ChatLLM, LLMUnavailableError
from theo_rtc.agent.options import EMERGENCY_LINES, AgentOptions, instructions_for
from theo_rtc.session import StreamingSession
from theo_rtc.transports.speaker import Speaker, SpokenUtterance
from theo_rtc.tts.service import SpeechRequest

log = logging.getLogger("theo.agent")

__all__ = ["VoiceAgent"]


class VoiceAgent:
    def __init__(self, session: StreamingSession, speaker: Speaker, options: AgentOptions) -> None:
        self.session = session
        self.speaker = speaker
        self.options = options
        self.llm = ChatLLM(options)
        self.conversation = Conversation(self._instructions(options), options.max_history_messages)
        self.state = ""  # start() announces "listening"
        self._response: asyncio.Task[None] | None = None
        self._utterance: SpokenUtterance | None = None
        self._closed = False

    # --- wiring -----------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._set_state("listening")
        if self.options.greeting:
            self._begin(self._say(self._new_id(), _texts([self.options.greeting])))

    def on_event(self, event: dict[str, Any]) -> None:
        """Called for every session event, in order (from the session's event sender)."""
        if self._closed:
            return
        kind = event.get("type")
        if kind == "transcript.final" and str(event.get("text") or "").strip():
            # "off": what was said while the agent spoke is answered after it, not instead of it
            self._begin(self._answer(str(event["text"]).strip()), wait=self.options.interruptions == "off")
        elif kind == "vad.speech_start" and self.responding and self.options.interruptions == "barge-in":
            # The caller talks over the answer: stop now; the final that follows is the next turn.
            self._begin(self._interrupted())
        elif kind == "tts.speaking_start" and event.get("request_id") == self._current_id():
            self._set_state("speaking")

    @property
    def responding(self) -> bool:
        return self._response is not None and not self._response.done()

    def update(self, options: AgentOptions) -> None:
        """New options from the next answer on (the conversation is kept)."""
        if (options.llm, options.fallback) != (self.options.llm, self.options.fallback):
            self.llm = ChatLLM(options)  # the answer in progress keeps its own client until it ends
        self.llm.options = options
        self.conversation.instructions = self._instructions(options)
        self.conversation.max_messages = options.max_history_messages
        self.options = options

    async def interrupt(self) -> None:
        """Stop the answer in progress (LLM and speech); what was heard stays in the conversation."""
        task, self._response = self._response, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def aclose(self) -> None:
        self._closed = True
        await self.interrupt()
        await self.llm.aclose()

    def _begin(self, work: Coroutine[Any, Any, None], *, wait: bool = False) -> None:
        """Run ``work`` after the answer in progress: cancelled (a new turn replaces it), or finished."""
        previous = self._response

        async def run() -> None:
            if previous is not None and not previous.done():
                if not wait:
                    previous.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await previous
            await work

        self._response = asyncio.create_task(run(), name=f"{self.session.id}-agent")
        self._response.add_done_callback(_log_failure)

    # --- turns ------------------------------------------------------------------------------------------

    async def _interrupted(self) -> None:
        self._set_state("listening")  # the answer was cancelled before this ran (see _begin)

    async def _answer(self, user_text: str) -> None:
        self.conversation.add_user(user_text)
        response_id = self._new_id()
        self._set_state("thinking", response_id=response_id, user_text=user_text)
        await self._say(response_id, self._pieces(response_id))

    async def _pieces(self, response_id: str) -> AsyncIterator[str]:
        chunker = SentenceChunker()
        try:
            async for delta in self.llm.stream(self.conversation.messages()):
                for piece in chunker.push(delta):
                    self._delta(response_id, piece)
                    yield piece
        except LLMUnavailableError as exc:
            self.session.emit(
                "error", code="llm_unavailable", message=f"no LLM answered: {exc}", recoverable=True
            )
            line = EMERGENCY_LINES.get(self._language()[:2], EMERGENCY_LINES["en"])
            self._delta(response_id, line, emergency=True)
            yield line
            return
        for piece in chunker.flush():
            self._delta(response_id, piece)
            yield piece

    async def _say(self, response_id: str, pieces: AsyncIterator[str]) -> None:
        utterance = self._utterance = SpokenUtterance(response_id)
        try:
            task = await self.speaker.speak_pieces(
                pieces,
                self._template(),
                response_id,
                self.session,
                hold_input=self.options.interruptions == "mute",
                utterance=utterance,
            )
            await asyncio.shield(task)  # cancelling the answer stops the speech via speaker.cancel()
        finally:
            if self.speaker.speaking:
                await self.speaker.cancel()
            text = " ".join(p.text for p in utterance.pieces)
            interrupted = bool(utterance.pieces) and utterance.interrupted
            heard = utterance.heard() if interrupted else text
            self.conversation.add_assistant(heard)
            if interrupted and utterance.played is not None:
                self.session.emit(
                    "agent.interrupted",
                    response_id=response_id,
                    played_ms=round(utterance.played.position_s * 1000),
                    heard_text=heard,
                )
            self.session.emit(
                "agent.response.text.done",
                response_id=response_id,
                text=text,
                heard_text=heard,
                interrupted=interrupted,
                played_ms=round(utterance.played.position_s * 1000) if utterance.played else 0,
            )
            if not interrupted:
                self._set_state("listening")

    # --- helpers ----------------------------------------------------------------------------------------

    def _delta(self, response_id: str, text: str, **extra: Any) -> None:
        self.session.emit("agent.response.text.delta", response_id=response_id, text=text, **extra)

    def _set_state(self, state: str, **fields: Any) -> None:
        if state != self.state or fields:
            self.state = state
            self.session.emit("agent.state", state=state, **fields)

    def _language(self) -> str:
        return self.options.language or self.session.config.language or "en"

    def _instructions(self, options: AgentOptions) -> str:
        return options.instructions or instructions_for(options.language or self.session.config.language)

    def _current_id(self) -> str | None:
        return self._utterance.request_id if self._utterance is not None else None

    @staticmethod
    def _new_id() -> str:
        return f"resp_{uuid.uuid4().hex[:12]}"

    def _template(self) -> SpeechRequest:
        config = self.session.config
        return SpeechRequest(
            model=self.options.tts_model or config.tts_model or "tts-1",
            input="",
            voice=self.options.tts_voice or config.tts_voice or "",
            language=config.language,
        )


async def _texts(texts: list[str]) -> AsyncIterator[str]:
    for text in texts:
        yield text


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("%s failed", task.get_name(), exc_info=task.exception())
