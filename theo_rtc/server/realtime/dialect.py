"""A WebSocket dialect maps client messages onto a :class:`StreamingSession` and its events back out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from theo_rtc.errors import InvalidRequestError
from theo_rtc.session import SessionConfig, StreamingSession


class UnknownEventError(InvalidRequestError):
    code = "unknown_event"


class Dialect(ABC):
    name: str

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
