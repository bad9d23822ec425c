"""ASGI middlewares for ``Host`` (DNS rebinding) and ``Origin`` (cross-site requests), on HTTP and WebSocket.

Starlette's TrustedHostMiddleware splits ``[::1]:8000`` wrongly and CORSMiddleware leaves WebSockets and
"simple" cross-origin requests (a form's multipart POST runs without a preflight) alone, hence these.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from theo_rtc.auth.errors import ForbiddenOriginError, InvalidHostError, send_error
from theo_rtc.auth.hosts import HostAllowlist, origin_allowed

log = logging.getLogger("theo.security")

__all__ = ["HostCheckMiddleware", "OriginCheckMiddleware", "header"]


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class HostCheckMiddleware:
    def __init__(self, app: ASGIApp, *, hosts: HostAllowlist) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            hosts = [str(v.decode("latin-1")) for k, v in scope.get("headers", []) if k == b"host"]
            host = hosts[0] if hosts else ""
            if len(hosts) != 1 or not self.hosts.allows(host):  # two Host headers: which one is meant?
                log.warning("refused %s %s: Host %r is not allowed", scope["type"], scope["path"], host[:100])
                error = InvalidHostError(
                    f"Host {host[:100]!r} is not one of this server's names (set THEO_ALLOWED_HOSTS)",
                    param="host",
                )
                await send_error(scope, receive, send, error)
                return
        await self.app(scope, receive, send)


class OriginCheckMiddleware:
    """Refuses a browser request (one with ``Origin``) from a page that is neither Theo's nor allowed."""

    def __init__(self, app: ASGIApp, *, allowed_origins: list[str]) -> None:
        self.app = app
        self.allowed_origins = allowed_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            origin = header(scope, b"origin")
            if origin is not None and not origin_allowed(
                origin, header(scope, b"host") or "", self.allowed_origins
            ):
                log.warning("refused %s %s from Origin %r", scope["type"], scope["path"], origin[:100])
                error = ForbiddenOriginError(
                    f"requests from the origin {origin[:100]!r} are not allowed (set THEO_CORS_ORIGINS)",
                    param="origin",
                )
                await send_error(scope, receive, send, error)
                return
        await self.app(scope, receive, send)
