"""Theo's own realtime protocol (seed §7): binary PCM16 frames + JSON events, TTS audio as binary frames."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from theo_rtc.session import SessionConfig, StreamingSession
from theo_rtc.transports.protocol.dialect import Dialect, UnknownEventError, bounded_hot_words
from theo_rtc.transports.sink import AudioSink, WebSocketAudioSink

if TYPE_CHECKING:
    from theo_rtc.transports.websocket.output import WebSocketOutput


class TheoDialect(Dialect):
    name = "theo"

    def initial_config(self, query: dict[str, str], default_model: str) -> SessionConfig:
        fields: dict[str, Any] = {"model": query.get("model") or default_model}
        if "language" in query:
            fields["language"] = query["language"]
        if "sample_rate" in query:
            fields["sample_rate"] = int(query["sample_rate"])
        return SessionConfig.model_validate(fields)

    def translate(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        return [event]

    def audio_sink(self, output: WebSocketOutput) -> AudioSink:
        return WebSocketAudioSink(output)  # TTS audio as binary frames

    async def handle(self, message: dict[str, Any], session: StreamingSession) -> bool:
        kind = message.get("type")
        if kind == "session.configure":
            changes = {k: v for k, v in message.items() if k not in ("type", "event_id")}
            await session.configure(bounded_hot_words(changes))
        elif kind == "input_audio_buffer.commit":
            await session.commit()
        elif kind == "input_audio_buffer.clear":
            await session.clear()
        elif kind == "session.close":
            await session.close("client")
            return False
        elif kind == "session.cancel":
            await session.cancel()
            return False
        elif kind in ("tts.speak", "tts.cancel") and self.speaker is not None:
            await self.speaker.handle(message, session)
        elif kind in ("tts.speak", "tts.cancel"):
            raise UnknownEventError("text-to-speech is not available on this server", param="type")
        else:
            raise UnknownEventError(f"unknown event type {kind!r}", param="type")
        return True

    def error(
        self,
        code: str,
        message: str,
        *,
        param: str | None = None,
        recoverable: bool = False,
        event_id: str | None = None,
    ) -> dict[str, Any]:
        return {"type": "error", "code": code, "message": message, "param": param, "recoverable": recoverable}
