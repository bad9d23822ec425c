"""What handlers ask the security layer: may this caller see detail, and a session slot for a WebRTC call."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import HTTPConnection

from theo_rtc.auth.auth_middleware import principal_of
from theo_rtc.auth.state import SecurityState

__all__ = ["claim_session_slot", "has_operator_access"]


def _security(connection: HTTPConnection) -> SecurityState | None:
    security = getattr(connection.app.state, "security", None)
    return security if isinstance(security, SecurityState) else None


def has_operator_access(connection: HTTPConnection) -> bool:
    """Auth off, or a real API key: may see process detail (pids, ports, last errors)."""
    security = _security(connection)
    principal = principal_of(connection.scope)
    return security is None or not security.auth_enabled or (principal is not None and principal.is_operator)


def claim_session_slot(connection: HTTPConnection) -> Callable[[], None]:
    """One of the caller's key's realtime session slots (429 when all are taken); call the result to free it.

    WebSockets take theirs in :class:`AuthMiddleware`; a WebRTC call outlives its signaling request, so
    signaling takes one here and frees it when the call ends.
    """
    security = _security(connection)
    principal = principal_of(connection.scope)
    if security is None or principal is None:
        return lambda: None
    return security.sessions.claim(principal.key_id)
