"""A realtime dialect maps client messages onto a :class:`StreamingSession` and its events back out."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from theo_rtc.errors import InvalidRequestError
from theo_rtc.postprocessing import HotWordsError, parse_hot_words
from theo_rtc.session import SessionConfig, StreamingSession

if TYPE_CHECKING:
    from theo_rtc.transports.sink import AudioSink
    from theo_rtc.transports.speaker import Speaker
    from theo_rtc.transports.websocket.output import WebSocketOutput


class UnknownEventError(InvalidRequestError):
    code = "unknown_event"


def parse_event(text: str, max_chars: int) -> tuple[dict[str, Any], str | None]:
    """A client's JSON text message as ``(event, event_id)``; raises an OpenAI-shaped error otherwise."""
    if len(text) > max_chars:
        raise InvalidRequestError("JSON message too large", param="message", code="message_too_large")
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(
            f"malformed JSON: {exc.msg} at position {exc.pos}", code="invalid_json"
        ) from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise InvalidRequestError(
            "each message must be a JSON object with a string 'type'", param="type", code="invalid_event"
        )
    event_id = payload.get("event_id")
    return payload, event_id if isinstance(event_id, str) else None


def bounded_hot_words(fields: dict[str, Any]) -> dict[str, Any]:
    """Session fields with ``hot_words`` held to the post-processing limits before the session sees them:
    one list item may hold thousands of comma-separated words, which a count of items does not catch.
    The words are split at the commas (what post-processing does anyway); other types are left to the
    session's own validation."""
    value = fields.get("hot_words")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return fields
    try:
        return fields | {"hot_words": list(parse_hot_words(value, strict=True))}
    except HotWordsError as exc:
        raise InvalidRequestError(str(exc), param="hot_words", code="invalid_value") from None


class Dialect(ABC):
    """Wire events of one protocol ↔ the session's typed events; client messages → session calls."""

    name: str
    speaker: Speaker | None = None  # set by the call when its transport can play audio

    @abstractmethod
    def initial_config(self, query: dict[str, str], default_model: str) -> SessionConfig: ...

    @abstractmethod
    def translate(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Session event → zero or more messages for the client."""

    @abstractmethod
    async def handle(self, message: dict[str, Any], session: StreamingSession) -> bool:
        """Apply one client JSON message; returns False when the client asked to end the session."""

    def audio(self, data: bytes, session: StreamingSession) -> None:
        session.push_pcm16(data)

    def audio_sink(self, output: WebSocketOutput) -> AudioSink | None:
        """Where the call's speech goes on a WebSocket (``None``: this dialect does not speak)."""
        return None

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """The call is closing: stop what the dialect runs itself."""

    @abstractmethod
    def error(
        self,
        code: str,
        message: str,
        *,
        param: str | None = None,
        recoverable: bool = False,
        event_id: str | None = None,
    ) -> dict[str, Any]: ...
