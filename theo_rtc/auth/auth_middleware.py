"""API keys, ephemeral client secrets and per-key limits on every route and transport.

With no key configured nothing is required (a loopback server behaves as before); otherwise every route
but ``/health`` (liveness) and the web demo's own pages needs a credential:

- a real API key: every route;
- an ephemeral client secret (``ek_``): the realtime transports only (``WS /v1/realtime``,
  ``POST /v1/realtime/calls``), once, before it expires; never REST;
- the web demo's password (HTTP Basic): only what the demo page calls besides the realtime transports
  (model and voice lists, LiveKit sessions, hang-up, a client secret for itself).

Each request (WebSocket handshakes included) counts against the key's per-minute budget; each realtime
WebSocket holds one of the key's session slots while it is open (WebRTC calls take theirs in signaling).
"""

from __future__ import annotations

import logging
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from theo_rtc.auth.client_secrets import PREFIX as SECRET_PREFIX
from theo_rtc.auth.credentials import REALTIME_SUBPROTOCOL, presented_credential, subprotocols
from theo_rtc.auth.errors import InvalidApiKeyError, RateLimitError, send_error
from theo_rtc.auth.keys import Principal
from theo_rtc.auth.state import DEMO_PRINCIPAL, SecurityState

log = logging.getLogger("theo.security")

__all__ = ["AuthMiddleware", "principal_of"]

HEALTH_PATH = "/health"
DEMO_TOKEN_PATH = "/demo/session-token"
REALTIME_WS_PATH = "/v1/realtime"
REALTIME_CALLS_PATH = "/v1/realtime/calls"
# What the web demo page calls over REST, besides its realtime call (which takes a client secret).
_DEMO_ROUTES = (
    ("GET", re.compile(r"/v1/models")),
    ("GET", re.compile(r"/v1/audio/voices")),
    ("POST", re.compile(r"/v1/livekit/sessions")),
    ("POST", re.compile(r"/v1/realtime/calls/[^/]+/hangup")),
    ("POST", re.compile(re.escape(DEMO_TOKEN_PATH))),
)


def principal_of(scope: Scope) -> Principal | None:
    principal = scope.get("state", {}).get("principal")
    return principal if isinstance(principal, Principal) else None


class AuthMiddleware:
    def __init__(self, app: ASGIApp, *, security: SecurityState, demo_paths: frozenset[str]) -> None:
        """``demo_paths``: the web demo's static files (``/``, ``/app.js``, ...)."""
        self.app = app
        self.security = security
        self.demo_paths = demo_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        send = _answer_realtime_subprotocol(scope, send)
        if not self.security.auth_enabled:
            await self.app(scope, receive, send)
            return
        path = scope["path"].rstrip("/") or "/"
        method = scope.get("method", "GET") if scope["type"] == "http" else "WEBSOCKET"
        principal = self._identify(scope, path, method)
        scope.setdefault("state", {})["principal"] = principal
        if path == HEALTH_PATH:  # liveness for anyone; the handler shows detail to a key only
            await self.app(scope, receive, send)
            return
        open_to_all = path == DEMO_TOKEN_PATH or (path in self.demo_paths and not self.security.demo_password)
        if principal is None and not open_to_all:
            await send_error(scope, receive, send, self._unauthorized(scope, path), self._challenge(path))
            return
        release = None
        try:
            if principal is not None:
                remaining = self.security.requests.hit(principal.key_id)
                if scope["type"] == "websocket" and path == REALTIME_WS_PATH:
                    release = self.security.sessions.claim(principal.key_id)
                send = self._with_rate_headers(send, principal, remaining)
        except RateLimitError as exc:
            log.warning("%s %s: %s", method, path, exc.message)
            await send_error(scope, receive, send, exc, {"retry-after": str(exc.retry_after_s)})
            return
        try:
            await self.app(scope, receive, send)
        finally:
            if release is not None:
                release()

    def _identify(self, scope: Scope, path: str, method: str) -> Principal | None:
        presented = presented_credential(scope)
        if presented is None:
            return None
        if presented.scheme == "basic":
            allowed = path in self.demo_paths or any(
                m == method and p.fullmatch(path) for m, p in _DEMO_ROUTES
            )
            return (
                DEMO_PRINCIPAL if allowed and self.security.demo_password_matches(presented.value) else None
            )
        if presented.value.startswith(SECRET_PREFIX):
            if _is_realtime(scope, path, method):  # redeemed (used up) only where it may be used
                return self.security.client_secrets.redeem(presented.value)
            return None
        return self.security.keys.match(presented.value)

    def _unauthorized(self, scope: Scope, path: str) -> InvalidApiKeyError:
        presented = presented_credential(scope)
        if presented is None:
            message = (
                "you didn't provide an API key: send 'Authorization: Bearer <key>' (on a browser WebSocket, "
                "the subprotocol 'openai-insecure-api-key.<key>')"
            )
        elif presented.value.startswith(SECRET_PREFIX) and presented.scheme == "bearer":
            method = scope.get("method", "GET") if scope["type"] == "http" else "WEBSOCKET"
            if _is_realtime(scope, path, method):
                message = "the client secret is unknown, expired or already used; mint a new one"
            else:
                message = (
                    "client secrets (ek_...) open realtime sessions only (WS /v1/realtime, "
                    "POST /v1/realtime/calls); use an API key for this route"
                )
        else:
            message = "incorrect API key provided"  # never echo the key, not even a part of it
        return InvalidApiKeyError(message)

    def _challenge(self, path: str) -> dict[str, str]:
        if self.security.demo_password and path in self.demo_paths:
            return {"www-authenticate": 'Basic realm="Theo demo", charset="UTF-8"'}
        return {"www-authenticate": 'Bearer realm="theo"'}

    def _with_rate_headers(self, send: Send, principal: Principal, remaining: int) -> Send:
        limit = self.security.requests.per_minute
        if limit <= 0:
            return send

        async def send_with_headers(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.http.response.start"):
                headers = MutableHeaders(scope=message)
                headers.append("x-ratelimit-limit-requests", str(limit))
                headers.append("x-ratelimit-remaining-requests", str(max(0, remaining)))
                reset = self.security.requests.reset_after_s(principal.key_id)
                headers.append("x-ratelimit-reset-requests", f"{reset}s")
            await send(message)

        return send_with_headers


def _is_realtime(scope: Scope, path: str, method: str) -> bool:
    if scope["type"] == "websocket":
        return path == REALTIME_WS_PATH
    return method == "POST" and path == REALTIME_CALLS_PATH


def _answer_realtime_subprotocol(scope: Scope, send: Send) -> Send:
    """Accept with ``realtime`` when the client offered it, as OpenAI does (a browser whose offered
    subprotocols all go unanswered fails the connection)."""
    if scope["type"] != "websocket" or REALTIME_SUBPROTOCOL not in subprotocols(scope):
        return send

    async def send_accept_with_subprotocol(message: Message) -> None:
        if message["type"] == "websocket.accept" and not message.get("subprotocol"):
            message = dict(message) | {"subprotocol": REALTIME_SUBPROTOCOL}
        await send(message)

    return send_accept_with_subprotocol
