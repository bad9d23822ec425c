"""A call's events in a LiveKit room.

Every event goes out as the exact JSON of ``WS /v1/realtime`` (Theo protocol) in a reliable data packet on
topic ``theo.events``. Partials and finals are also published the way LiveKit's own frontends read them: a
text stream on topic ``lk.transcription`` sent on behalf of the speaking participant, with the standard
``lk.transcribed_track_id`` / ``lk.segment_id`` / ``lk.transcription_final`` attributes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from livekit import rtc

__all__ = ["EVENTS_TOPIC", "TRANSCRIPTION_TOPIC", "RoomEventOutput"]

log = logging.getLogger("theo.livekit")

EVENTS_TOPIC = "theo.events"
TRANSCRIPTION_TOPIC = "lk.transcription"


class RoomEventOutput:
    """A :class:`~theo_rtc.transports.call.CallOutput` for one remote track. Publishing is asynchronous and
    done by one writer task in order; past ``max_queued`` unsent messages (the room connection is stuck) the
    output gives up (``overflowed``) instead of holding memory."""

    def __init__(
        self,
        room: rtc.Room,
        *,
        participant_identity: str = "",
        track_sid: str = "",
        max_queued: int = 512,
    ) -> None:
        self.room = room
        self.participant_identity = participant_identity
        self.track_sid = track_sid
        self.overflowed = asyncio.Event()
        self._max = max_queued
        self._queue: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._writer(), name=f"lk-out-{track_sid}")
        self.published = 0

    async def send_event(self, event: dict[str, Any]) -> None:
        self._put(("data", event))
        kind = event.get("type")
        if kind == "transcript.partial":
            text = " ".join(t for t in (event.get("text"), event.get("unconfirmed")) if t)
            self._put(("transcription", (event, text, False)))
        elif kind == "transcript.final":
            self._put(("transcription", (event, event.get("text", ""), True)))

    def send_raw(self, message: dict[str, Any]) -> None:
        self._put(("data", message))

    def _put(self, item: tuple[str, Any]) -> None:
        if self.overflowed.is_set():
            return
        if self._queue.qsize() >= self._max:
            log.warning("room connection is not keeping up (%d events queued); ending the call", self._max)
            self.overflowed.set()
            return
        self._queue.put_nowait(item)

    async def _writer(self) -> None:
        while (item := await self._queue.get()) is not None:
            kind, payload = item
            if not self.room.isconnected():
                continue
            try:
                if kind == "data":
                    await self.room.local_participant.publish_data(
                        json.dumps(payload, ensure_ascii=False), reliable=True, topic=EVENTS_TOPIC
                    )
                else:
                    await self._publish_transcription(*payload)
                self.published += 1
            except Exception:  # the room is going away mid-publish; the call ends through its own path
                log.warning("could not publish to the room", exc_info=True)

    async def _publish_transcription(self, event: dict[str, Any], text: str, final: bool) -> None:
        attributes = {
            "lk.transcribed_track_id": self.track_sid,
            "lk.segment_id": f"{event['session_id']}_{event['segment_id']}",
            "lk.transcription_final": "true" if final else "false",
        }
        writer = await self.room.local_participant.stream_text(
            topic=TRANSCRIPTION_TOPIC, attributes=attributes, sender_identity=self.participant_identity
        )
        await writer.write(text)
        await writer.aclose()

    async def aclose(self) -> None:
        """Publish what is queued (at most 2 s), then stop."""
        self._queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(self._task), 2.0)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
