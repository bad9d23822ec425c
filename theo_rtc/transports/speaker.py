"""Full duplex on one session (seed §4.11): ``tts.speak`` streams synthesized audio back on the same
transport while the session's own input is muted (mute-on-speak), unmuted in ``finally`` whatever happens.

``tts.speaking_end`` is sent when the audio has *played*, not when synthesis finished: that is when the
microphone stops hearing the bot."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any

from theo_rtc.errors import InvalidRequestError, TheoError
from theo_rtc.runtime import TheoRuntime
from theo_rtc.scheduler import Priority
from theo_rtc.session.session import StreamingSession
from theo_rtc.session.transport import SessionOutput
from theo_rtc.tts.service import SpeechRequest

log = logging.getLogger("theo.duplex")

MAX_TEXT = 4096
PLAYBACK_MARGIN_S = 0.15


class DuplexSpeaker:
    """One utterance at a time per session: a new ``tts.speak`` interrupts the one playing."""

    def __init__(self, runtime: TheoRuntime, output: SessionOutput) -> None:
        self.runtime = runtime
        self.output = output
        self._task: asyncio.Task[None] | None = None

    async def handle(self, message: dict[str, Any], session: StreamingSession) -> None:
        if message["type"] == "tts.cancel":
            await self._cancel()
            return
        text = message.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InvalidRequestError("tts.speak needs non-empty 'text'", param="text")
        if len(text) > MAX_TEXT:
            raise InvalidRequestError(
                f"'text' is {len(text)} characters; the limit is {MAX_TEXT}", param="text"
            )
        speed = message.get("speed", 1.0)
        if not isinstance(speed, int | float) or not 0.25 <= speed <= 4.0:
            raise InvalidRequestError("'speed' must be a number between 0.25 and 4.0", param="speed")
        request = SpeechRequest(
            model=str(message.get("model") or session.config.tts_model or "tts-1"),
            input=text,
            voice=str(message.get("voice") or session.config.tts_voice or ""),
            speed=float(speed),
            language=message.get("language") or session.config.language,
            sample_rate=int(message.get("sample_rate") or 0),
        )
        self.runtime.speech.validate(request)  # bad model/voice/format: an error event now, not mid-stream
        await self._cancel()
        request_id = str(message.get("request_id") or f"tts_{uuid.uuid4().hex[:12]}")
        self._task = asyncio.create_task(self._speak(request, request_id, session))

    async def _speak(self, request: SpeechRequest, request_id: str, session: StreamingSession) -> None:
        session.mute()
        started = time.monotonic()
        audio_s = 0.0
        cancelled = True
        announced = False
        try:
            stream = await self.runtime.speech.open(request, priority=Priority.REALTIME)
            await self.output.send_event(
                {
                    "type": "tts.speaking_start",
                    "session_id": session.id,
                    "request_id": request_id,
                    "model": stream.model,
                    "sample_rate": stream.sample_rate,
                    "first_audio_ms": round((time.monotonic() - started) * 1000),
                }
            )
            announced = True
            playback_started = time.monotonic()
            async for chunk in stream:
                await self.output.send_audio(chunk.pcm16, chunk.sample_rate)
                audio_s += chunk.duration
            # Synthesis runs faster than real time; the client is still playing. Stay muted until the audio
            # has played out (plus a margin for the client's buffer), or the bot's voice would be transcribed.
            remaining = playback_started + audio_s + PLAYBACK_MARGIN_S - time.monotonic()
            if remaining > 0:
                await asyncio.sleep(remaining)
            cancelled = False
        except TheoError as exc:
            await self.output.send_event(
                {
                    "type": "error",
                    "session_id": session.id,
                    "code": exc.code or "tts_error",
                    "message": exc.message,
                    "param": exc.param,
                    "recoverable": True,
                }
            )
        finally:
            session.unmute()
            if announced:
                with contextlib.suppress(Exception):
                    await self.output.send_event(
                        {
                            "type": "tts.speaking_end",
                            "session_id": session.id,
                            "request_id": request_id,
                            "cancelled": cancelled,
                            "audio_ms": round(audio_s * 1000),
                        }
                    )

    async def _cancel(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def aclose(self) -> None:
        await self._cancel()
