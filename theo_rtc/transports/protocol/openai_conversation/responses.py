"""One Realtime response at a time: the conversation's items to the agent's LLM (``ChatLLM``), its answer
chunked (``SentenceChunker``) and spoken through the call's :class:`Speaker`, everything said back as
OpenAI's ``response.*`` events, in the session's one event FIFO.

A response ends ``completed``, ``cancelled`` (``response.cancel``: ``client_cancelled``; the caller
started talking: ``turn_detected``) or ``failed`` (no LLM answered). Function calls end it too, as OpenAI's
do: the client runs them and sends ``function_call_output`` items, then ``response.create``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any, cast

from theo_rtc.agent.chunker import SentenceChunker
from theo_rtc.agent.llm import ChatLLM, LLMUnavailableError, ToolCall
from theo_rtc.agent.options import AgentOptions, instructions_for
from theo_rtc.errors import TheoError
from theo_rtc.transports.protocol.openai_conversation.items import ConversationItems, new_item_id
from theo_rtc.transports.protocol.openai_conversation.params import ResponseParams
from theo_rtc.transports.protocol.openai_conversation.settings import RealtimeSettings
from theo_rtc.transports.speaker import Speaker, SpokenUtterance
from theo_rtc.tts.service import SpeechRequest

log = logging.getLogger("theo.realtime.conversation")

__all__ = ["ResponseParams", "Responses"]

TRANSCRIPT_WAIT_S = 60.0  # a response waits this long for the words of the audio before it


class Responses:
    def __init__(
        self,
        items: ConversationItems,
        settings: Callable[[], RealtimeSettings],
        send: Callable[[dict[str, Any]], None],
        options: Callable[[], Any],
    ) -> None:
        """``send`` queues a wire event in the session's FIFO; ``options`` awaits the agent's options."""
        self.items = items
        self._settings = settings
        self._send = send
        self._options = options
        self._llm: ChatLLM | None = None
        self._task: asyncio.Task[None] | None = None
        self.response_id: str | None = None
        self._cancel_reason = "client_cancelled"
        self.audio_target: dict[str, Any] | None = None  # where audio deltas go (the sink reads it)
        self.conversation_id = f"conv_{uuid.uuid4().hex[:20]}"

    @property
    def active(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, speaker: Speaker, params: ResponseParams) -> str:
        self.response_id = f"resp_{uuid.uuid4().hex[:20]}"
        self._cancel_reason = "client_cancelled"
        self._task = asyncio.create_task(self._run(speaker, self.response_id, params), name=self.response_id)
        return self.response_id

    async def cancel(self, reason: str) -> None:
        task = self._task
        if task is not None and not task.done():
            self._cancel_reason = reason
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def aclose(self) -> None:
        await self.cancel("client_cancelled")
        if self._llm is not None:
            await self._llm.aclose()

    # --- one response ------------------------------------------------------------------------------------

    async def _run(self, speaker: Speaker, response_id: str, params: ResponseParams) -> None:
        settings = self._settings()
        modalities = params.output_modalities or settings.output_modalities
        limit = params.max_output_tokens or settings.max_output_tokens
        response: dict[str, Any] = {
            "id": response_id,
            "object": "realtime.response",
            "status": "in_progress",
            "status_details": None,
            "output": [],
            "conversation_id": self.conversation_id if params.conversation != "none" else None,
            "output_modalities": list(modalities),
            "max_output_tokens": limit,
            "audio": {"output": {"format": settings.output_format.wire(), "voice": settings.voice}},
            "usage": None,
            "metadata": params.metadata,
        }
        self._send({"type": "response.created", "response": dict(response)})
        self._send(
            {
                "type": "rate_limits.updated",
                "rate_limits": [
                    {"name": "requests", "limit": 1000, "remaining": 999, "reset_seconds": 0.0},
                    {"name": "tokens", "limit": 100_000, "remaining": 100_000, "reset_seconds": 0.0},
                ],
            }
        )
        run = _Run(self, speaker, response, params, settings)
        try:
            await run.generate("audio" in modalities)
            response["status"] = "completed"
        except asyncio.CancelledError:
            response["status"] = "cancelled"
            response["status_details"] = {"type": "cancelled", "reason": self._cancel_reason}
        except (LLMUnavailableError, TheoError, TimeoutError) as exc:
            code = exc.code if isinstance(exc, TheoError) else "llm_unavailable"
            message = exc.message if isinstance(exc, TheoError) else f"no LLM answered: {exc}"
            if isinstance(exc, TimeoutError):
                code, message = "transcription_timeout", "the words of the user's audio never arrived"
            log.warning("%s failed: %s", response_id, message)
            response["status"] = "failed"
            response["status_details"] = {
                "type": "failed",
                "error": {"type": "server_error", "code": code, "message": message},
            }
        except Exception as exc:  # a bug: the client still gets its response.done, the session goes on
            log.exception("%s failed", response_id)
            response["status"] = "failed"
            response["status_details"] = {
                "type": "failed",
                "error": {"type": "server_error", "code": "internal_error", "message": type(exc).__name__},
            }
        finally:
            with contextlib.suppress(asyncio.CancelledError):  # stop speaking before anything says "done"
                await speaker.cancel()
            self.audio_target = None
            run.finish()
            response["usage"] = run.usage()
            self._send({"type": "response.done", "response": response})

    def llm(self, options: AgentOptions) -> ChatLLM:
        if self._llm is None or (self._llm.options.llm, self._llm.options.fallback) != (
            options.llm,
            options.fallback,
        ):
            self._llm = ChatLLM(options)
        self._llm.options = options
        return self._llm


class _Run:
    """The state of one response while it is generated: its output items and what they hold."""

    def __init__(
        self,
        owner: Responses,
        speaker: Speaker,
        response: dict[str, Any],
        params: ResponseParams,
        settings: RealtimeSettings,
    ) -> None:
        self.owner = owner
        self.speaker = speaker
        self.response = response
        self.params = params
        self.settings = settings
        self.message: dict[str, Any] | None = None  # the assistant message item, once there is text
        self.text: list[str] = []
        self.audio = False
        self.utterance: SpokenUtterance | None = None
        self.calls: list[ToolCall] = []
        self.input_chars = 0
        self.open_call: dict[str, Any] | None = None

    def send(self, event: dict[str, Any]) -> None:
        """A ``response.*`` event of this response."""
        self.owner._send(event | {"response_id": self.response["id"]})

    @property
    def in_conversation(self) -> bool:
        return self.params.conversation != "none"

    async def generate(self, audio: bool) -> None:
        self.audio = audio
        items = self.owner.items
        context = items
        if self.params.input is not None:
            context = ConversationItems()
            for item in self.params.input:
                context.add(item)
        await asyncio.wait_for(context.transcribed(), TRANSCRIPT_WAIT_S)
        options: AgentOptions = await self.owner._options()
        temperature = (
            self.params.temperature if self.params.temperature is not None else self.settings.temperature
        )
        limit = self.params.max_output_tokens or self.settings.max_output_tokens
        options = dataclasses.replace(
            options,
            temperature=temperature,
            max_tokens=limit if isinstance(limit, int) else options.max_tokens,
        )
        language = self.speaker.session.config.language if self.speaker.session else None
        instructions = self.params.instructions or self.settings.instructions or instructions_for(language)
        messages = context.messages(instructions)
        self.input_chars = sum(len(str(m.get("content") or "")) for m in messages)
        tools = self.params.tools if self.params.tools is not None else self.settings.tools
        choice = self.params.tool_choice or self.settings.tool_choice
        functions: list[dict[str, Any]] = (
            [] if choice == "none" else [{k: v for k, v in t.items() if k != "type"} for t in tools]
        )
        if isinstance(choice, dict):  # one named function: the only one offered
            functions = [f for f in functions if f.get("name") == choice["name"]]
        definitions = [{"type": "function", "function": f} for f in functions]
        wanted: str | dict[str, Any] | None = None  # in chat completions' shape
        if choice == "required":
            wanted = "required"
        elif isinstance(choice, dict):
            wanted = {"type": "function", "function": {"name": choice["name"]}}
        stream = cast(
            AsyncGenerator[str | ToolCall, None],
            self.owner.llm(options).stream(messages, definitions or None, wanted),
        )
        try:
            await self._output(stream, audio)
        finally:
            # the speaker's task iterates the stream in audio mode: it stops first, then the stream closes
            with contextlib.suppress(asyncio.CancelledError):
                await self.speaker.cancel()
            await stream.aclose()
        for call in self.calls:
            self._function_call(call)

    async def _output(self, stream: AsyncIterator[str | ToolCall], audio: bool) -> None:
        if audio:
            self.utterance = SpokenUtterance(str(self.response["id"]))
            task = await self.speaker.speak_pieces(
                self._spoken(stream),
                self._voice(),
                str(self.response["id"]),
                self.speaker.session,
                hold_input=False,
                utterance=self.utterance,
            )
            await asyncio.shield(task)
        else:
            async for delta in self._text(stream):
                self.text.append(delta)

    # --- output -----------------------------------------------------------------------------------------

    def _begin_message(self) -> None:
        if self.message is not None:
            return
        kind = "output_audio" if self.audio else "output_text"
        self.message = {
            "id": new_item_id(),
            "object": "realtime.item",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        self._add_item(self.message)
        part = {"type": "audio", "transcript": ""} if self.audio else {"type": "text", "text": ""}
        self.send({"type": "response.content_part.added", **self._where(), "part": part})
        self.message["content"].append(
            {"type": kind, "transcript": ""} if self.audio else {"type": kind, "text": ""}
        )
        if self.audio:
            self.owner.audio_target = {"response_id": self.response["id"], **self._where()}
            state = self.owner.items.state.get(self.message["id"])
            if state is not None:  # truncate may come before the response is done: the record grows
                state.utterance = self.utterance

    def _add_item(self, item: dict[str, Any]) -> None:
        self.response["output"].append(item)
        self.send(
            {
                "type": "response.output_item.added",
                "output_index": len(self.response["output"]) - 1,
                "item": dict(item, content=list(item.get("content", []))),
            }
        )
        if self.in_conversation:
            previous = self.owner.items.add(item)
            self.owner._send({"type": "conversation.item.added", "previous_item_id": previous, "item": item})

    def _where(self) -> dict[str, Any]:
        assert self.message is not None
        return {
            "item_id": self.message["id"],
            "output_index": self.response["output"].index(self.message),
            "content_index": 0,
        }

    async def _spoken(self, stream: AsyncIterator[str | ToolCall]) -> AsyncIterator[str]:
        chunker = SentenceChunker()
        async for delta in self._text(stream, send=False):
            for piece in chunker.push(delta):
                yield self._transcript(piece)
        for piece in chunker.flush():
            yield self._transcript(piece)

    def _transcript(self, piece: str) -> str:
        self._begin_message()
        delta = piece if not self.text else " " + piece
        self.text.append(delta)
        self.send({"type": "response.output_audio_transcript.delta", **self._where(), "delta": delta})
        return piece

    async def _text(self, stream: AsyncIterator[str | ToolCall], send: bool = True) -> AsyncIterator[str]:
        async for item in stream:
            if isinstance(item, ToolCall):
                self.calls.append(item)
                continue
            if send and item:
                self._begin_message()
                self.send({"type": "response.output_text.delta", **self._where(), "delta": item})
            yield item

    def _function_call(self, call: ToolCall) -> None:
        item = {
            "id": new_item_id(),
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": call.name,
            "call_id": call.id,
            "arguments": "",
        }
        self._add_item(item)
        index = self.response["output"].index(item)
        where = {"item_id": item["id"], "output_index": index, "call_id": call.id}
        self.send({"type": "response.function_call_arguments.delta", **where, "delta": call.arguments})
        self.send(
            {
                "type": "response.function_call_arguments.done",
                **where,
                "name": call.name,
                "arguments": call.arguments,
            }
        )
        item.update(arguments=call.arguments, status="completed")
        self._item_done(item)

    def _item_done(self, item: dict[str, Any]) -> None:
        index = self.response["output"].index(item)
        self.send({"type": "response.output_item.done", "output_index": index, "item": item})
        if self.in_conversation:
            self.owner._send({"type": "conversation.item.done", "item": item})

    def finish(self) -> None:
        """Close the assistant message (also when cancelled: OpenAI sends the done events then too)."""
        message = self.message
        if message is None or message["status"] != "in_progress":
            return
        text = "".join(self.text).strip()
        where = self._where()
        if self.audio:
            self.send({"type": "response.output_audio.done", **where})
            self.send({"type": "response.output_audio_transcript.done", **where, "transcript": text})
            part = {"type": "audio", "transcript": text}
            message["content"][0]["transcript"] = text
        else:
            self.send({"type": "response.output_text.done", **where, "text": text})
            part = {"type": "text", "text": text}
            message["content"][0]["text"] = text
        self.send({"type": "response.content_part.done", **where, "part": part})
        message["status"] = "completed" if self.response["status"] == "completed" else "incomplete"
        self._item_done(message)

    def _voice(self) -> SpeechRequest:
        settings = self.settings
        store = self.speaker.runtime.store
        local = store.is_installed(settings.voice) and store.get(settings.voice).manifest.type == "tts"
        session = self.speaker.session
        return SpeechRequest(
            model=settings.voice if local else (session.config.tts_model if session else None) or "tts-1",
            input="",
            voice="" if local else settings.voice,
            speed=settings.speed,
            language=session.config.language if session else None,
            sample_rate=settings.output_format.rate,
        )

    def usage(self) -> dict[str, Any]:
        """Token counts estimated from characters (about 4 a token): the local LLM's own counts are not
        streamed back."""
        output_text = sum(len(t) for t in self.text) + sum(len(c.arguments) for c in self.calls)
        inputs, outputs = self.input_chars // 4, output_text // 4
        audio_out = 0
        if self.message is not None and (state := self.owner.items.state.get(self.message["id"])):
            audio_out = state.audio_ms // 50  # OpenAI counts about 20 audio tokens a second
        return {
            "total_tokens": inputs + outputs + audio_out,
            "input_tokens": inputs,
            "output_tokens": outputs + audio_out,
            "input_token_details": {"text_tokens": inputs, "audio_tokens": 0, "cached_tokens": 0},
            "output_token_details": {"text_tokens": outputs, "audio_tokens": audio_out},
        }
