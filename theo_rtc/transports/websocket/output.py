"""A bounded, non-blocking way out to a WebSocket client (a :class:`~theo_rtc.transports.call.CallOutput`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from starlette.websockets import WebSocket, WebSocketState

log = logging.getLogger("theo.realtime")

Translate = Callable[[dict[str, Any]], list[dict[str, Any]]]


class WebSocketOutput:
    """Queues events and audio; one task writes them to the socket.

    A client that stops reading fills the queue; past ``max_queued`` messages the output gives up, so a
    slow or dead reader can never make the session (or the server) hold unbounded memory.
    """

    def __init__(self, websocket: WebSocket, translate: Translate, *, max_queued: int) -> None:
        self.websocket = websocket
        self._translate = translate
        self._queue: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self._max = max_queued
        self.overflowed = asyncio.Event()
        self._task = asyncio.create_task(self._writer())

    async def send_event(self, event: dict[str, Any]) -> None:
        for message in self._translate(event):
            self._put(json.dumps(message, ensure_ascii=False))

    async def send_audio(self, pcm16: bytes, sample_rate: int) -> None:
        """Speech for the client as a binary frame (the rate was announced in ``tts.speaking_start``)."""
        self._put(pcm16)

    def send_raw(self, message: dict[str, Any]) -> None:
        self._put(json.dumps(message, ensure_ascii=False))

    def _put(self, message: str | bytes) -> None:
        if self.overflowed.is_set():
            return
        if self._queue.qsize() >= self._max:
            log.warning("client is not reading (%d messages queued); closing", self._queue.qsize())
            self.overflowed.set()
            return
        self._queue.put_nowait(message)

    async def _writer(self) -> None:
        while (message := await self._queue.get()) is not None:
            if self.websocket.client_state != WebSocketState.CONNECTED:
                continue
            try:
                if isinstance(message, bytes):
                    await self.websocket.send_bytes(message)
                else:
                    await self.websocket.send_text(message)
            except Exception:  # disconnected mid-send: drain the rest silently
                log.debug("send failed; client gone")

    async def aclose(self) -> None:
        """Flush what is queued (at most 2 s), then stop the writer."""
        self._queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(self._task), 2.0)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
