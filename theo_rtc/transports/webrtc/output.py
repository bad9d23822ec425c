"""The call's events over WebRTC, on the ``oai-events`` data channel (speech goes out on the paced track)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from typing import Any

from aiortc import RTCDataChannel

from theo_rtc.transports.websocket.output import Translate

log = logging.getLogger("theo.webrtc")


class DataChannelOutput:
    """A :class:`~theo_rtc.transports.call.CallOutput`. Events produced before the browser's data channel
    opens (e.g. ``session.created``) wait in a bounded backlog and are sent in order once it opens.

    aiortc's channel ``send`` never blocks: it queues inside SCTP. A browser that stops reading makes
    ``bufferedAmount`` grow; past ``max_buffered`` bytes the output gives up (``overflowed``), the same
    policy as the WebSocket output, so a dead reader cannot make the server hold unbounded memory.
    """

    def __init__(self, translate: Translate, *, max_backlog: int, max_buffered: int) -> None:
        self._translate = translate
        self.channel: RTCDataChannel | None = None
        self._backlog: deque[str] = deque()
        self._max_backlog = max_backlog
        self._max_buffered = max_buffered
        self.overflowed = asyncio.Event()
        self.sent = 0

    def attach(self, channel: RTCDataChannel) -> None:
        self.channel = channel
        if channel.readyState == "open":
            self._flush()
        else:
            channel.on("open", self._flush)

    async def send_event(self, event: dict[str, Any]) -> None:
        for message in self._translate(event):
            self._put(json.dumps(message, ensure_ascii=False))

    def send_raw(self, message: dict[str, Any]) -> None:
        self._put(json.dumps(message, ensure_ascii=False))

    def _put(self, text: str) -> None:
        if self.overflowed.is_set():
            return
        channel = self.channel
        if channel is None or channel.readyState == "connecting":
            if len(self._backlog) >= self._max_backlog:
                log.warning("data channel never opened (%d events waiting); giving up", len(self._backlog))
                self.overflowed.set()
                return
            self._backlog.append(text)
            return
        if channel.readyState != "open":
            return  # closing/closed: the call is ending
        if channel.bufferedAmount > self._max_buffered:
            log.warning(
                "peer is not reading the data channel (%d bytes buffered); closing", channel.bufferedAmount
            )
            self.overflowed.set()
            return
        channel.send(text)
        self.sent += 1

    def _flush(self) -> None:
        while self._backlog and self.channel is not None and self.channel.readyState == "open":
            self.channel.send(self._backlog.popleft())
            self.sent += 1
