"""OpenAI Realtime *conversation* sessions (``session.type: "realtime"``, ``?model=gpt-realtime``) on the
call's session, speaker and the voice agent's LLM client.

Input audio takes the transcription dialect's path (VAD, commits, transcription events, item ids per
segment); each committed segment becomes a user item and, with server VAD, starts a response. Every event
the client gets goes through the session's one FIFO: this dialect's own as ``openai.event`` session events,
turned into wire messages by :meth:`translate` (which also sees each session event in order, and acts on
it: speech start interrupts the response, a final fills in the user's item).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import numpy as np
import soxr

from theo_rtc.errors import InvalidRequestError
from theo_rtc.preprocessing.pipeline import pcm16_to_float
from theo_rtc.session import SessionConfig, StreamingSession
from theo_rtc.session.state import SessionState
from theo_rtc.stt.service import TranscriptionRequest
from theo_rtc.transports.protocol.dialect import UnknownEventError
from theo_rtc.transports.protocol.openai_conversation.codec import decode_base64
from theo_rtc.transports.protocol.openai_conversation.items import ConversationItems, client_item
from theo_rtc.transports.protocol.openai_conversation.params import ResponseParams, response_params
from theo_rtc.transports.protocol.openai_conversation.responses import Responses
from theo_rtc.transports.protocol.openai_conversation.settings import (
    RealtimeSettings,
    check_fields,
)
from theo_rtc.transports.protocol.openai_conversation.sink import OpenAIAudioSink
from theo_rtc.transports.protocol.openai_conversation.wire import BetaNames, truncate
from theo_rtc.transports.protocol.openai_transcription import OPENAI_RATE, OpenAIDialect, _event_id

if TYPE_CHECKING:
    from theo_rtc.transports.sink import AudioSink
    from theo_rtc.transports.websocket.output import WebSocketOutput

log = logging.getLogger("theo.realtime.conversation")

__all__ = ["OpenAIConversationDialect"]

STT_RATE = 16_000
_ENVELOPE = {"type", "event_id"}
_FIELDS: dict[str, set[str]] = {
    "session.update": {"session"},
    "input_audio_buffer.append": {"audio"},
    "input_audio_buffer.commit": set(),
    "input_audio_buffer.clear": set(),
    "conversation.item.create": {"item", "previous_item_id"},
    "conversation.item.delete": {"item_id"},
    "conversation.item.retrieve": {"item_id"},
    "conversation.item.truncate": {"item_id", "content_index", "audio_end_ms"},
    "response.create": {"response"},
    "response.cancel": {"response_id"},
}


class OpenAIConversationDialect(OpenAIDialect):
    name = "openai-conversation"

    def __init__(
        self,
        default_model: str,
        installed: set[str],
        *,
        beta: bool = False,
        options: Callable[[], Any] | None = None,
        smart_turn: bool = False,
    ) -> None:
        """``options`` awaits the agent's options (its LLM endpoint) on a response's first need of them."""
        super().__init__(default_model, installed)
        self._beta = beta
        self._smart_turn = smart_turn
        self.settings = RealtimeSettings()
        self.items = ConversationItems()
        self.wire = BetaNames() if beta else None
        self.responses = Responses(self.items, lambda: self.settings, self._emit, options or _no_options)
        self._output: WebSocketOutput | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # --- wiring ------------------------------------------------------------------------------------------

    def initial_config(self, query: dict[str, str], default_model: str) -> SessionConfig:
        self._config = SessionConfig(model=default_model, sample_rate=OPENAI_RATE)
        return self._config

    def audio_sink(self, output: WebSocketOutput) -> AudioSink:
        self._output = output
        return OpenAIAudioSink(
            lambda: self.settings.output_format, self.responses, self._items_audio, self._raw
        )

    def _session(self) -> StreamingSession:
        if self.speaker is None or self.speaker.session is None:
            raise InvalidRequestError("this session cannot speak", param="type")
        return self.speaker.session

    def _emit(self, message: dict[str, Any]) -> None:
        """A wire event, in the session's FIFO (after every event already queued). A copy: it is sent
        later, and the items and responses it shows change as the response goes on."""
        self._session().emit("openai.event", message=copy.deepcopy(message))

    def _raw(self, message: dict[str, Any]) -> None:
        """A wire event straight to the output (audio deltas, sent as synthesized)."""
        if self._output is not None:
            for wired in self._wired(message):
                self._output.send_raw(wired)

    def _wired(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        message = {"type": message["type"], "event_id": _event_id(), **message}
        return self.wire.translate(message) if self.wire is not None else [message]

    def _items_audio(self, item_id: str, ms: int) -> None:
        state = self.items.state.get(item_id)
        if state is not None:
            state.audio_ms += ms

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)  # held until done: a bare task may be collected mid-run
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.responses.aclose()

    # --- server events -------------------------------------------------------------------------------------

    def translate(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event["type"]
        if kind == "openai.event":
            return self._wired(event["message"])
        if kind in ("session.created", "session.configured"):
            name = "session.created" if kind == "session.created" else "session.updated"
            session = self.settings.session_object(f"sess_{self._session_key}", event["config"], self._beta)
            return [{"type": name, "event_id": _event_id(), "session": session}]
        messages = super().translate(event)
        segment = event.get("segment_id", 0)
        if kind == "vad.speech_start" and self.settings.turn is not None and self.settings.interrupt_response:
            if self.responses.active:  # OpenAI's barge-in: the caller's speech ends the response
                self._spawn(self.responses.cancel("turn_detected"))
        elif kind == "input_audio_buffer.committed":
            item = {
                "id": self.item_id(segment),
                "object": "realtime.item",
                "type": "message",
                "status": "completed",
                "role": "user",
                "content": [{"type": "input_audio", "transcript": None}],
            }
            previous = self.items.add(item)
            for message in messages:  # the item follows the conversation's last, text items included
                message["previous_item_id"] = previous
            messages += self._wired(
                {"type": "conversation.item.added", "previous_item_id": previous, "item": item}
            )
            messages += self._wired(
                {"type": "conversation.item.done", "previous_item_id": previous, "item": item}
            )
        elif kind == "transcript.partial" and self.settings.transcription is None:
            return []
        elif kind in ("transcript.final", "transcript.discarded"):
            text = str(event.get("text") or "").strip()
            self._transcribed(self.item_id(segment), text)
            if self.settings.transcription is None:
                messages = [m for m in messages if not m["type"].startswith("conversation.item.input_audio")]
            if text and self.settings.create_response and not self.responses.active and self.speaker:
                self.responses.start(self.speaker, ResponseParams())
        return messages

    def _transcribed(self, item_id: str, text: str) -> None:
        try:
            item = self.items.get(item_id)
        except InvalidRequestError:
            return  # deleted by the client before its words were known
        for part in item["content"]:
            if part.get("type") == "input_audio" and part.get("transcript") is None:
                part["transcript"] = text
        self.items.state[item_id].transcribed.set()

    # --- client events -------------------------------------------------------------------------------------

    async def handle(self, message: dict[str, Any], session: StreamingSession) -> bool:
        kind = message.get("type")
        if kind not in _FIELDS:
            raise UnknownEventError(f"unknown or unsupported event type {str(kind)[:64]!r}", param="type")
        check_fields(message, _FIELDS[str(kind)] | _ENVELOPE, "")
        if (
            kind in ("conversation.item.create", "response.create")
            and session.state.state == SessionState.INIT
        ):
            # a conversation in text is going on: not a session that never received audio
            session.state.transition(SessionState.SILENCE)
        if kind == "session.update":
            session_obj = message.get("session")
            if not isinstance(session_obj, dict):
                raise InvalidRequestError("session.update needs a 'session' object", param="session")
            settings, changes = self.settings.updated(session_obj, self._model, self._smart_turn)
            old, self.settings = self.settings, settings
            try:
                await session.configure(changes)
            except Exception:
                self.settings = old
                raise
            self._config = session.config
        elif kind == "input_audio_buffer.append":
            session.push_pcm16(self.settings.input_format.to_pcm16(decode_base64(message.get("audio"))))
        elif kind == "input_audio_buffer.commit":
            if not await session.commit():
                raise InvalidRequestError(
                    "Error committing input audio buffer: buffer too small. "
                    "Expected at least 100ms of audio.",
                    param="input_audio_buffer",
                    code="input_audio_buffer_commit_empty",
                )
        elif kind == "input_audio_buffer.clear":
            await session.clear()
        elif kind == "conversation.item.create":
            self._create_item(message, session)
        elif kind == "conversation.item.delete":
            self.items.delete(message.get("item_id"))
            self._emit({"type": "conversation.item.deleted", "item_id": message["item_id"]})
        elif kind == "conversation.item.retrieve":
            self._emit(
                {"type": "conversation.item.retrieved", "item": self.items.get(message.get("item_id"))}
            )
        elif kind == "conversation.item.truncate":
            self._emit(truncate(self.items, message))
        elif kind == "response.create":
            self._create_response(message.get("response"))
        elif kind == "response.cancel":
            if not self.responses.active:
                raise InvalidRequestError(
                    "Cancellation failed: no active response found",
                    param="response_id",
                    code="response_cancel_not_active",
                )
            await self.responses.cancel("client_cancelled")
        return True

    def _create_item(self, message: dict[str, Any], session: StreamingSession) -> None:
        item = client_item(message.get("item"))
        previous_id = message.get("previous_item_id")
        if previous_id is not None and not isinstance(previous_id, str):
            raise InvalidRequestError("previous_item_id must be a string", param="previous_item_id")
        audio = [p for p in item.get("content", []) if p["type"] == "input_audio"]
        pcm = [
            self.settings.input_format.to_pcm16(decode_base64(p.pop("audio"), "item.content.audio"))
            for p in audio
        ]
        for part in audio:
            part.setdefault("transcript", None)
        previous = self.items.add(item, previous_id)
        self._emit({"type": "conversation.item.added", "previous_item_id": previous, "item": item})
        self._emit({"type": "conversation.item.done", "previous_item_id": previous, "item": item})
        if audio:
            self._spawn(self._transcribe(item, b"".join(pcm), session))

    async def _transcribe(self, item: dict[str, Any], pcm: bytes, session: StreamingSession) -> None:
        """An audio item's words, by batch transcription (a user item's audio sent whole)."""
        samples = pcm16_to_float(pcm)
        rate = self.settings.input_format.rate
        if rate != STT_RATE and len(samples):
            samples = soxr.resample(samples, rate, STT_RATE).astype(np.float32)
        text = ""
        try:
            if len(samples) >= STT_RATE // 10:
                config = session.config
                request = TranscriptionRequest(
                    model=config.model, language=config.language, prompt=config.prompt
                )
                text = (await session.runtime.transcriptions.transcribe(samples, request)).text
        finally:
            self._transcribed(item["id"], text)
        if self.settings.transcription is not None:
            self._emit(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item["id"],
                    "content_index": 0,
                    "transcript": text,
                    "usage": {"type": "duration", "seconds": round(len(samples) / STT_RATE, 3)},
                }
            )

    def _create_response(self, value: object) -> None:
        if self.responses.active:
            raise InvalidRequestError(
                f"Conversation already has an active response in progress: {self.responses.response_id}. "
                "Wait until the response is finished before creating a new one.",
                param="response",
                code="conversation_already_has_active_response",
            )
        params = response_params(value or {})
        if self.speaker is None:
            raise InvalidRequestError("this session cannot speak", param="response")
        self.responses.start(self.speaker, params)

    def audio(self, data: bytes, session: StreamingSession) -> None:
        raise InvalidRequestError("send audio as input_audio_buffer.append events (base64)", param="audio")


async def _no_options() -> Any:
    raise InvalidRequestError("no LLM is configured for conversation sessions", code="llm_not_configured")


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("%s failed", task.get_name(), exc_info=task.exception())
