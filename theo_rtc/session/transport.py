"""What a transport (WebSocket, WebRTC data channel, LiveKit room) provides to a streaming session."""

from __future__ import annotations

from typing import Any, Protocol


class SessionOutput(Protocol):
    """The session's way out for JSON-able events (speech goes out through a call's ``AudioSink``).
    Implementations must not block for long: they queue, and apply their own back-pressure policy to
    clients that don't read."""

    async def send_event(self, event: dict[str, Any]) -> None: ...
