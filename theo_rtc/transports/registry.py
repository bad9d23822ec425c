"""Live sessions across every transport, bounded by ``max_sessions``; WebRTC offers not connected yet have
their own small budget; on SIGTERM every call is asked to end (:meth:`SessionRegistry.drain`)."""

from __future__ import annotations

from collections.abc import Callable

from theo_rtc.errors import ServerShuttingDownError, TheoError
from theo_rtc.observability.memory import release_memory
from theo_rtc.session import StreamingSession

__all__ = ["SERVER_SHUTDOWN", "SessionRegistry", "TooManyPendingOffersError", "TooManySessionsError"]

SERVER_SHUTDOWN = "server_shutdown"  # the end reason (session.closed) of every session a drain ends


class TooManySessionsError(TheoError):
    status_code = 503
    code = "too_many_sessions"


class TooManyPendingOffersError(TheoError):
    status_code = 503
    code = "too_many_pending_offers"


class SessionRegistry:
    """Counts live sessions so the server refuses new ones past ``limit`` instead of exhausting RAM.

    A *pending* session (a WebRTC offer answered, its peer not connected yet) counts against
    ``pending_limit`` instead, and against ``limit`` only once promoted (:meth:`promote`): offers that never
    connect cannot lock established sessions out for their connect timeout.
    """

    def __init__(self, limit: int, *, pending_limit: int = 8) -> None:
        self.limit = limit
        self.pending_limit = pending_limit
        self.sessions: dict[str, StreamingSession] = {}  # every live session, pending ones included
        self.pending: set[str] = set()
        self.draining = False
        self._enders: dict[str, Callable[[str], object]] = {}

    def full(self) -> bool:
        return len(self.sessions) - len(self.pending) >= self.limit

    def reserve(
        self, session: StreamingSession, *, pending: bool = False, end: Callable[[str], object] | None = None
    ) -> None:
        """Claim a slot for ``session`` (before it starts, so a burst cannot overshoot the limit); ``end``
        is called with :data:`SERVER_SHUTDOWN` when the server drains."""
        if self.draining:
            raise ServerShuttingDownError("the server is shutting down; connect to another instance")
        if pending:
            if len(self.pending) >= self.pending_limit:
                raise TooManyPendingOffersError(
                    f"{self.pending_limit} WebRTC calls are already waiting for their peers to connect; "
                    "retry shortly (THEO_WEBRTC_MAX_PENDING_OFFERS)"
                )
            self.pending.add(session.id)
        elif self.full():
            raise TooManySessionsError(f"the server is at its limit of {self.limit} sessions; retry later")
        self.sessions[session.id] = session
        if end is not None:
            self._enders[session.id] = end

    def promote(self, session: StreamingSession) -> None:
        """A pending session's peer connected: from now on it counts against ``limit`` (which it may not
        exceed: ``too_many_sessions``)."""
        if session.id not in self.pending:
            return
        if self.full():
            raise TooManySessionsError(f"the server is at its limit of {self.limit} sessions; retry later")
        self.pending.discard(session.id)

    def release(self, session: StreamingSession) -> None:
        self.pending.discard(session.id)
        self._enders.pop(session.id, None)
        if self.sessions.pop(session.id, None) is not None:
            # Sessions are cyclic garbage holding MBs of audio: give memory back when the server goes idle.
            release_memory(force=not self.sessions)

    def drain(self, reason: str = SERVER_SHUTDOWN) -> None:
        """Refuse new sessions from now on and ask every live call to end (each flushes its finals)."""
        self.draining = True
        for end in list(self._enders.values()):
            end(reason)
