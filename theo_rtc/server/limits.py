"""Reject oversized request bodies while they stream in, before anything is parsed or spooled.

Every route that reads a body is bounded: the audio uploads (``/v1/audio/transcriptions`` and
``/translations``) by ``THEO_MAX_UPLOAD_BYTES``, everything else (``/v1/text/normalize``,
``/v1/realtime/calls``, ``/v1/audio/speech``, ``/v1/livekit/sessions``, ...) by ``THEO_MAX_BODY_BYTES``.
A declared ``Content-Length`` over the limit is refused before one byte is read; a chunked body is
counted as it arrives. Either way the answer is an OpenAI-shaped 413.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from theo_rtc.errors import UploadTooLargeError

UPLOAD_PATHS = ("/v1/audio/transcriptions", "/v1/audio/translations")
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
_MULTIPART_SLACK = 64 * 1024  # multipart framing and the form fields around the file itself


class RequestTooLargeError(UploadTooLargeError):
    code = "request_too_large"


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int, max_body_bytes: int | None = None) -> None:
        """``max_bytes``: the audio upload limit; ``max_body_bytes``: every other body (default: the
        running app's ``settings.max_body_bytes``, else 1 MiB)."""
        self.app = app
        self.max_bytes = max_bytes
        self.max_body_bytes = max_body_bytes

    def _limit(self, scope: Scope) -> tuple[int, UploadTooLargeError]:
        if scope["path"].rstrip("/") in UPLOAD_PATHS:
            mb = self.max_bytes / 2**20
            error = UploadTooLargeError(
                f"the upload exceeds the {mb:g} MB limit (set THEO_MAX_UPLOAD_BYTES to change it)",
                param="file",
            )
            return self.max_bytes + _MULTIPART_SLACK, error
        limit = self.max_body_bytes
        if limit is None:
            runtime = getattr(getattr(scope.get("app"), "state", None), "runtime", None)
            limit = getattr(getattr(runtime, "settings", None), "max_body_bytes", DEFAULT_MAX_BODY_BYTES)
        return int(limit), RequestTooLargeError(
            f"the request body exceeds the {limit / 1024:g} kB limit of {scope['path']} "
            "(set THEO_MAX_BODY_BYTES to change it)"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, error = self._limit(scope)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _reject(send, error)
            return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not response_started:
                await _reject(send, error)


async def _reject(send: Send, error: UploadTooLargeError) -> None:
    body = json.dumps(error.to_dict()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _TooLarge(BaseException):
    """BaseException so that FastAPI's body parsing (which wraps ``Exception`` into a 400) lets it through."""
