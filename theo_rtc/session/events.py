"""The session's one ordered event FIFO and the task that hands its events to the transport."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from theo_rtc.session.transport import SessionOutput

log = logging.getLogger("theo.session")


class Emit(Protocol):
    def __call__(self, event_type: str, **fields: Any) -> None: ...


class EventQueue:
    """Everything the client hears about the call (VAD, engine stream, timers, speakers, the agent) goes
    through this one FIFO, so events leave in the order they happened."""

    def __init__(self, session_id: str, output: SessionOutput) -> None:
        self._session_id = session_id
        self._output = output
        self._queue: asyncio.Queue[tuple[dict[str, Any], asyncio.Future[None] | None] | None] = (
            asyncio.Queue()
        )
        self._sender: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._sender = asyncio.create_task(self._send_all(), name=f"{self._session_id}-sender")

    def emit(self, event_type: str, **fields: Any) -> None:
        """Queue an event for the client (events queued before :meth:`start` wait for it)."""
        self._queue.put_nowait(({"type": event_type, "session_id": self._session_id, **fields}, None))

    async def deliver(self, event_type: str, **fields: Any) -> None:
        """:meth:`emit`, then wait until the event has been handed to the transport. Returns at once when
        the sender is not running (before start, after close)."""
        if self._sender is None or self._sender.done():
            return
        handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(({"type": event_type, "session_id": self._session_id, **fields}, handed))
        await asyncio.wait({handed, self._sender}, return_when=asyncio.FIRST_COMPLETED)

    async def wait_sent(self) -> None:
        """After :meth:`close`: wait (at most 5 s) until the last event has left."""
        if self._sender is not None and not self._sender.done():
            await asyncio.wait({self._sender}, timeout=5.0)

    async def close(self) -> None:
        """End the FIFO after the events queued so far; wait (at most 5 s) for them to leave."""
        self._queue.put_nowait(None)
        if self._sender is not None and self._sender is not asyncio.current_task():
            try:
                await asyncio.wait_for(self._sender, 5.0)
            except TimeoutError:
                self._sender.cancel()

    async def _send_all(self) -> None:
        while (item := await self._queue.get()) is not None:
            event, handed = item
            try:
                await self._output.send_event(event)
            except Exception:  # a bug in a transport's translation: say so, keep draining
                log.warning("%s: could not send %s", self._session_id, event["type"], exc_info=True)
            finally:
                if handed is not None and not handed.done():
                    handed.set_result(None)
