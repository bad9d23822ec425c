"""``x-request-id`` on every HTTP response, as OpenAI's API sends it (clients log it; LiveKit warns without).

An incoming ``x-request-id`` is echoed when it is a sane token (printable ASCII, at most 128 characters), so
a proxy's or client's id follows the request through; otherwise one is made (``req_`` + 32 hex digits). A
WebSocket upgrade gets one too, accepted (101) or refused with an HTTP response. The id is in
``scope["state"]["request_id"]`` for handlers and logs.
"""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HEADER", "RequestIdMiddleware", "request_id"]

HEADER = "x-request-id"
_SANE = re.compile(r"[\x21-\x7e]{1,128}")
_STARTS = ("http.response.start", "websocket.accept", "websocket.http.response.start")


def request_id(connection: HTTPConnection) -> str:
    """The id of this request (set by :class:`RequestIdMiddleware`); ``""`` outside it."""
    return str(connection.scope.get("state", {}).get("request_id", ""))


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(HEADER.encode(), b"").decode("latin-1").strip()
        rid = incoming if _SANE.fullmatch(incoming) else f"req_{uuid.uuid4().hex}"
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: Message) -> None:
            if message["type"] in _STARTS:
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                if HEADER not in headers:
                    headers.append(HEADER, rid)
            await send(message)

        await self.app(scope, receive, send_with_id)
