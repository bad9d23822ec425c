"""The voice agent (seed GAP 1, 2, 12): it listens to a call's session, answers each user turn with a
streaming LLM, and speaks the answer piece by piece through the call's speaker while the rest is written.

Transport-agnostic: it sees the session's events (``transcript.final``, ``vad.speech_start``,
``tts.speaking_start``) and speaks through a :class:`Speaker`, so the same agent runs on the WebSocket, the
WebRTC peer and LiveKit rooms. What it adds to the session's one ordered event stream:

- ``agent.state``: ``listening`` → ``thinking`` (a turn went to the LLM) → ``speaking`` (its audio began)
- ``agent.response.text.delta``: each piece of the answer as it goes to TTS
- ``agent.response.text.done``: the whole answer, what was heard of it, whether it was interrupted
- ``agent.interrupted``: the caller talked over the answer (``heard_text``, ``played_ms``)
- ``agent.filler``: a filler went first because the answer was slow to start (``text``, ``audio_ms``)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from theo_rtc.agent.chunker import SentenceChunker
from theo_rtc.agent.conversation import Conversation
from theo_rtc.agent.fillers import Fillers
from theo_rtc.agent.llm import ChatLLM, LLMUnavailableError, ToolCall
from theo_rtc.agent.memory import estimate_tokens
from theo_rtc.agent.options import EMERGENCY_LINES, AgentOptions, instructions_for
from theo_rtc.agent.tools import ToolBox
from theo_rtc.errors import InvalidRequestError
from theo_rtc.observability import metrics
from theo_rtc.session import StreamingSession
from theo_rtc.transports.speaker import AudioClip, Speaker, SpokenUtterance
from theo_rtc.tts.service import SpeechRequest

log = logging.getLogger("theo.agent")

__all__ = ["VoiceAgent"]


class VoiceAgent:
    def __init__(
        self,
        session: StreamingSession,
        speaker: Speaker,
        options: AgentOptions,
        tools: ToolBox | None = None,
    ) -> None:
        self.session = session
        self.speaker = speaker
        self.options = options
        self.llm = ChatLLM(options)
        self.conversation = Conversation(
            self._instructions(options), options.max_history_messages, options.context_budget_tokens
        )
        self.state = ""  # start() announces "listening"
        self.tools = tools or ToolBox()
        self.tools.ask_client = self._ask_client
        self.fillers = Fillers(speaker.runtime)
        self._client_results: dict[str, asyncio.Future[str]] = {}
        self._after_playout: list[ToolCall] = []  # side-effect tools waiting for the answer to play out
        self._recorded = 0  # pieces of the answer already in the conversation (tool rounds)
        self._resumable: SpokenUtterance | None = None  # the answer the last interruption cut
        self._speech_ended_at: float | None = None  # when the caller's last speech ended (VAD)
        self._turn_ended_at: float | None = None  # ... for the turn being answered
        self._confirmed_at: float | None = None  # when the interrupting speech was confirmed
        self._response: asyncio.Task[None] | None = None
        self._utterance: SpokenUtterance | None = None
        self._closed = False

    # --- wiring -----------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._set_state("listening")
        self._prepare_fillers()
        if self.options.greeting:
            self._begin(self._say(self._new_id(), _texts([self.options.greeting])))

    def on_event(self, event: dict[str, Any]) -> None:
        """Called for every session event, in order (from the session's event sender)."""
        if self._closed:
            return
        kind = event.get("type")
        if kind == "vad.speech_end":
            self._speech_ended_at = time.monotonic()
        if kind == "transcript.final" and str(event.get("text") or "").strip():
            # "off": what was said while the agent spoke is answered after it, not instead of it
            self._begin(self._answer(str(event["text"]).strip()), wait=self.options.interruptions == "off")
        elif kind == "vad.speech_confirmed" and self.responding and self.options.interruptions == "barge-in":
            # The caller talks over the answer (long enough not to be a cough): stop now; the final that
            # follows is the next turn.
            self._confirmed_at = time.monotonic()
            metrics.agent_interruptions_total.inc()
            self._begin(self._interrupted())
        elif kind == "transcript.discarded" and self._resumable is not None:
            # A false interruption (noise, no words): say the rest of what was cut off, once the
            # interruption has been handled (_resumable is cleared by any turn that followed it).
            metrics.agent_false_interruptions_total.inc()
            self._begin(self._resume(self._resumable), wait=True)
        if kind in ("transcript.final", "transcript.discarded"):
            self._resumable = None
        elif kind == "tts.speaking_start" and event.get("request_id") == self._current_id():
            self._set_state("speaking")
            if self._turn_ended_at is not None:
                metrics.agent_response_latency_seconds.observe(time.monotonic() - self._turn_ended_at)
                self._turn_ended_at = None

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
        self.conversation.budget_tokens = options.context_budget_tokens
        self.options = options
        self._prepare_fillers()

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
        await self.fillers.aclose()
        await self.llm.aclose()

    def _begin(self, work: Coroutine[Any, Any, None], *, wait: bool = False) -> None:
        """Run ``work`` after the answer in progress: cancelled (a new turn replaces it), or finished."""
        previous = self._response

        async def run() -> None:
            try:
                if previous is not None and not previous.done():
                    if not wait:
                        previous.cancel()
                    await asyncio.wait({previous})  # its cancellation is not ours: wait() does not raise it
            except asyncio.CancelledError:
                work.close()  # replaced before it started: never run
                raise
            await work

        self._response = asyncio.create_task(run(), name=f"{self.session.id}-agent")
        self._response.add_done_callback(_log_failure)

    # --- turns ------------------------------------------------------------------------------------------

    async def _interrupted(self) -> None:
        # the answer was cancelled (its audio cleared) before this ran (see _begin)
        if self._confirmed_at is not None:
            metrics.agent_barge_in_seconds.observe(time.monotonic() - self._confirmed_at)
            self._confirmed_at = None
        self._set_state("listening")

    async def _resume(self, cut: SpokenUtterance) -> None:
        position = cut.played.position_s if cut.played else 0.0
        rest = [p.text for p in cut.pieces if p.end_s > position + 1e-3 and not p.clip]
        if rest:
            self.session.emit("agent.resumed", response_id=cut.request_id)
            await self._say(self._new_id(), _texts(rest))

    async def _answer(self, user_text: str) -> None:
        metrics.agent_turns_total.inc()
        self._turn_ended_at = self._speech_ended_at
        self.conversation.add_user(user_text)
        response_id = self._new_id()
        self._set_state("thinking", response_id=response_id, user_text=user_text)
        pieces: AsyncIterator[str | AudioClip] = self._pieces(response_id)
        if self.options.fillers:
            pieces = self.fillers.before(
                self._pieces(response_id), self.options.filler_delay_s, self._filler_played(response_id)
            )
        await self._say(response_id, pieces)

    async def _pieces(self, response_id: str) -> AsyncIterator[str]:
        """The answer's speakable pieces, across tool rounds: text said before a tool call is spoken
        while the tool runs; the LLM is asked again with the results."""
        for _ in range(self.options.max_tool_rounds + 1):
            chunker, calls, said = SentenceChunker(), [], []
            try:
                tools = self.tools.definitions()
                messages = self.conversation.messages(reserve_tokens=estimate_tokens(json.dumps(tools)))
                async for item in self.llm.stream(messages, tools):
                    if isinstance(item, ToolCall):
                        calls.append(item)
                        continue
                    said.append(item)
                    for piece in chunker.push(item):
                        self._delta(response_id, piece)
                        yield piece
            except LLMUnavailableError as exc:
                self.session.emit(
                    "error", code="llm_unavailable", message=f"no LLM answered: {exc}", recoverable=True
                )
                metrics.agent_emergency_lines_total.inc()
                line = EMERGENCY_LINES.get(self._language()[:2], EMERGENCY_LINES["en"])
                self._delta(response_id, line, emergency=True)
                yield line
                return
            for piece in chunker.flush():
                self._delta(response_id, piece)
                yield piece
            if not calls:
                return
            results = await self._run_tools(response_id, calls)
            self.conversation.add_tool_round("".join(said).strip(), calls, results)
            self._recorded = len(self._utterance.pieces) if self._utterance else 0
            if any(self.tools.after_playout(c) for c in calls):
                return  # the call ends after this: nothing more to ask the LLM
        log.warning(
            "%s: %s stopped after %d tool rounds", self.session.id, response_id, self.options.max_tool_rounds
        )

    async def _run_tools(self, response_id: str, calls: list[ToolCall]) -> list[str]:
        async def one(call: ToolCall) -> str:
            kind = "client" if call.name in self.tools.client else "server"
            metrics.agent_tool_calls_total.labels(call.name[:64], kind).inc()
            self.session.emit(
                "agent.tool_call",
                response_id=response_id,
                call_id=call.id,
                name=call.name,
                arguments=call.arguments,
                client=call.name in self.tools.client,
            )
            if self.tools.after_playout(call):
                self._after_playout.append(call)
                return json.dumps({"ok": True, "note": "runs once what was said has played"})
            return await self.tools.run(call)

        return list(await asyncio.gather(*(one(c) for c in calls)))

    # --- client tools -------------------------------------------------------------------------------------

    async def _ask_client(self, call: ToolCall) -> str:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._client_results[call.id] = future
        try:
            return await future
        finally:
            self._client_results.pop(call.id, None)

    def tool_result(self, call_id: str, output: str) -> None:
        """A client's ``agent.tool_result``; raises when no such call is waiting."""
        future = self._client_results.get(call_id)
        if future is None or future.done():
            raise InvalidRequestError(f"no tool call {call_id!r} is waiting for a result", param="call_id")
        future.set_result(output)

    async def _say(self, response_id: str, pieces: AsyncIterator[str | AudioClip]) -> None:
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
            deferred, self._after_playout = self._after_playout, []
            if not utterance.interrupted or not utterance.pieces:
                for call in deferred:  # everything said before them has been heard
                    await self.tools.run(call)
        finally:
            self._after_playout = []
            if self.speaker.speaking:
                await self.speaker.cancel()
            text = utterance.said()
            interrupted = bool(utterance.pieces) and utterance.interrupted
            heard = utterance.heard() if interrupted else text
            # what tool rounds already put in the conversation is not said twice
            self.conversation.add_assistant(
                utterance.heard(skip=self._recorded) if interrupted else utterance.said(skip=self._recorded),
                interrupted=interrupted,
            )
            self._recorded = 0
            self._resumable = utterance if interrupted else None
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

    def _prepare_fillers(self) -> None:
        if self.options.fillers:
            self.fillers.prepare(self._template(), self._language())

    def _filler_played(self, response_id: str) -> Callable[[AudioClip], None]:
        def played(clip: AudioClip) -> None:
            audio_ms = round(clip.duration_s * 1000)
            self.session.emit("agent.filler", response_id=response_id, text=clip.text, audio_ms=audio_ms)

        return played

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
