"""The refusals of the security layer, as OpenAI sends them, and how to send one from ASGI middleware.

A refused WebSocket is answered before ``accept()`` with an HTTP response (the ASGI denial-response
extension, which every uvicorn protocol implements), so a client sees a failed handshake, not a socket
that opens and closes.
"""

from __future__ import annotations

import json

from starlette.types import Receive, Scope, Send

from theo_rtc.errors import InvalidRequestError, TheoError


class InvalidApiKeyError(InvalidRequestError):
    status_code = 401
    code = "invalid_api_key"


class ForbiddenOriginError(InvalidRequestError):
    status_code = 403
    code = "origin_not_allowed"


class InvalidHostError(InvalidRequestError):
    status_code = 400
    code = "invalid_host"


class RateLimitError(TheoError):
    status_code = 429
    error_type = "requests"  # OpenAI's type for a requests-per-minute limit
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class DemoDisabledError(InvalidRequestError):
    status_code = 403
    code = "demo_disabled"


async def send_error(
    scope: Scope, receive: Receive, send: Send, error: TheoError, headers: dict[str, str] | None = None
) -> None:
    """``error`` as an HTTP response, on an HTTP request or a WebSocket handshake (never accepted)."""
    body = json.dumps(error.to_dict()).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if scope["type"] == "websocket":
        await receive()  # websocket.connect: the handshake the response answers
        if "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 1008, "reason": error.message[:120]})
            return
        prefix = "websocket."
    else:
        prefix = ""
    await send({"type": f"{prefix}http.response.start", "status": error.status_code, "headers": raw_headers})
    await send({"type": f"{prefix}http.response.body", "body": body})
