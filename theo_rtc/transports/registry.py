"""Live sessions across every transport, bounded by ``max_sessions``."""

from __future__ import annotations

from theo_rtc.errors import TheoError
from theo_rtc.observability.memory import release_memory
from theo_rtc.session import StreamingSession

__all__ = ["SessionRegistry", "TooManySessionsError"]


class TooManySessionsError(TheoError):
    status_code = 503
    code = "too_many_sessions"


class SessionRegistry:
    """Counts live sessions so the server refuses new ones past ``limit`` instead of exhausting RAM."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sessions: dict[str, StreamingSession] = {}

    def full(self) -> bool:
        return len(self.sessions) >= self.limit

    def reserve(self, session: StreamingSession) -> None:
        """Claim a slot for ``session`` (before it starts, so a burst cannot overshoot the limit)."""
        if self.full():
            raise TooManySessionsError(f"the server is at its limit of {self.limit} sessions; retry later")
        self.sessions[session.id] = session

    def release(self, session: StreamingSession) -> None:
        if self.sessions.pop(session.id, None) is not None:
            # Sessions are cyclic garbage holding MBs of audio: give memory back when the server goes idle.
            release_memory(force=not self.sessions)
