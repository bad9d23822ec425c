"""Graceful drain on SIGTERM: readiness 503 at once, no new work, sessions flushed, REST bounded, exit 0.

uvicorn, on SIGTERM, closes every WebSocket with 1012 at once and then waits for HTTP requests without a
bound (``timeout_graceful_shutdown`` unset); the utterance in progress is lost. :class:`DrainingServer`
runs :meth:`Drain.run` first and only then lets uvicorn shut down:

1. ``/health`` answers 503 ``draining``; new HTTP requests get 503 ``server_shutting_down`` (with
   ``Connection: close``); new WebSockets and WebRTC offers are refused the same way;
2. every streaming session is ended with reason ``server_shutdown``: its queued audio and the utterance in
   progress are committed, the finals go out, then ``session.closed``, then the WebSocket closes with 1001;
3. REST requests in flight may finish within ``THEO_SHUTDOWN_GRACE_S`` (``theo serve --shutdown-grace``,
   default 10 s); those still running then are cancelled and answered 503 ``server_shutting_down``;
4. uvicorn shuts down (the lifespan stops the workers) and the process exits with status 0.

A second SIGINT (Ctrl-C twice) skips what is left and exits at once, as uvicorn does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from types import FrameType

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from theo_rtc.errors import ServerShuttingDownError
from theo_rtc.transports.registry import SERVER_SHUTDOWN, SessionRegistry

log = logging.getLogger("theo.server")

__all__ = ["Drain", "DrainMiddleware", "DrainingServer"]

OPERATIONS_PATHS = frozenset({"/health", "/metrics", "/api/ps"})  # answered while draining
_CANCEL_WAIT_S = 1.0  # for cancelled requests to send their 503
_DISCARD_LIMIT = 32 << 20  # body bytes read and dropped before a refusal (the upload limit is 25 MB)


class Drain:
    def __init__(self, sessions: SessionRegistry) -> None:
        self.sessions = sessions
        self.draining = False
        self.requests: set[asyncio.Task[None]] = set()  # REST requests in flight
        self._cancelled: set[asyncio.Task[None]] = set()

    async def run(self, grace_s: float) -> None:
        """Flush every session and let REST requests finish, all within ``grace_s``; cancel the rest."""
        self.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        log.info(
            "draining: %d sessions, %d requests in flight (grace %.0f s)",
            len(self.sessions.sessions),
            len(self.requests),
            grace_s,
        )
        self.sessions.drain(SERVER_SHUTDOWN)
        # Two registries without an event of their own: polled.
        while (self.sessions.sessions or self.requests) and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        late = [task for task in self.requests if not task.done()]
        if late:
            log.warning("draining: cancelling %d requests still running after %.0f s", len(late), grace_s)
            self._cancelled.update(late)
            for task in late:
                task.cancel()
            await asyncio.wait(late, timeout=_CANCEL_WAIT_S)
        if self.sessions.sessions:
            log.warning("draining: %d sessions did not close within the grace", len(self.sessions.sessions))
        log.info("drained")

    def was_cancelled(self, task: asyncio.Task[None]) -> bool:
        return task in self._cancelled


class DrainMiddleware:
    """Counts REST requests for :class:`Drain`, refuses new ones while it drains, and answers the ones it
    cancels with a 503 (when their response has not started yet)."""

    def __init__(self, app: ASGIApp, *, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPERATIONS_PATHS:
            await self.app(scope, receive, send)
            return
        if self.drain.draining:
            await _discard_body(receive)
            await _refuse(send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def handle() -> None:
            await self.app(scope, receive, tracking_send)

        # The request runs as its own task so the drain can cancel it and this layer still answers.
        task = asyncio.create_task(handle())
        self.drain.requests.add(task)
        try:
            await asyncio.wait({task})  # a cancellation of this layer itself propagates from here
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            self.drain.requests.discard(task)
        if task.cancelled() and self.drain.was_cancelled(task):
            if not started:
                await _refuse(send, "the server shut down before the request finished; retry it")
            return
        task.result()  # re-raise what the app raised, as if it had run inline


async def _discard_body(receive: Receive) -> None:
    """Read what the client is still sending (up to a bound) before answering: a connection closed on
    unread data is reset, and the client would see the reset instead of the 503."""
    received = 0
    while received <= _DISCARD_LIMIT:
        message = await receive()
        received += len(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


async def _refuse(
    send: Send, message: str = "the server is shutting down; retry on another instance"
) -> None:
    body = json.dumps(ServerShuttingDownError(message).to_dict()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class DrainingServer(uvicorn.Server):
    """uvicorn's server, with :meth:`Drain.run` between SIGTERM (or the first SIGINT) and its shutdown."""

    def __init__(self, config: uvicorn.Config, *, drain: Drain, grace_s: float) -> None:
        super().__init__(config)
        self._drain = drain
        self._grace_s = grace_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain_task: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)  # type: ignore[arg-type]

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._loop is None or self._drain.draining or sig not in (signal.SIGTERM, signal.SIGINT):
            super().handle_exit(sig, frame)  # not started yet, or the second signal: uvicorn's own way
            return
        # Handled here in full: not recorded, so uvicorn does not re-raise it at exit (status 0).
        self._drain.draining = True  # readiness 503 from this instant
        self._loop.call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        self._drain_task = asyncio.ensure_future(self._drain_then_exit())

    async def _drain_then_exit(self) -> None:
        try:
            await self._drain.run(self._grace_s)
        except Exception:
            log.exception("draining failed; shutting down")
        finally:
            self.should_exit = True
