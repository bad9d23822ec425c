"""OpenAI Realtime GA *transcription session* dialect (``/v1/realtime?intent=transcription``).

Existing OpenAI clients work unmodified: ``session.update`` with ``type: "transcription"``,
``input_audio_buffer.append`` (base64 PCM16), ``.commit`` / ``.clear``; Theo answers with
``session.created/updated``, ``input_audio_buffer.speech_started/stopped/committed/cleared``,
``conversation.item.input_audio_transcription.delta/completed`` and ``error``. The beta names
(``transcription_session.update``, ``input_audio_format``, ``input_audio_transcription``) are accepted too.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import math
import uuid
from typing import Any

from theo_rtc.errors import InvalidRequestError
from theo_rtc.registry.aliases import OpenAIModelKind, openai_kind
from theo_rtc.session import SessionConfig, StreamingSession
from theo_rtc.transports.protocol.dialect import Dialect, UnknownEventError

OPENAI_RATE = 24_000


def _event_id() -> str:
    return f"event_{uuid.uuid4().hex[:20]}"


def _object(value: object, param: str) -> dict[str, Any]:
    """An optional JSON object field: absent (or null) is empty, anything but an object is an error."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequestError(f"{param} must be an object", param=param)
    return value


def _number(value: object, param: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        with contextlib.suppress(OverflowError):
            if math.isfinite(number := float(value)):
                return number
    raise InvalidRequestError(f"{param} must be a number", param=param)


def _integer(value: object, param: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    raise InvalidRequestError(f"{param} must be an integer", param=param)


class OpenAIDialect(Dialect):
    name = "openai"

    def __init__(self, default_model: str, installed: set[str]) -> None:
        """``default_model`` serves OpenAI's transcription names; ``installed`` are the local STT models."""
        self._default_model = default_model
        self._installed = installed
        self._previous_item: str | None = None
        self._delta_sent: dict[int, str] = {}
        self._session_key = uuid.uuid4().hex[:12]
        self._beta = False
        self._config: SessionConfig | None = None

    def item_id(self, segment_id: int) -> str:
        return f"item_{self._session_key}_{segment_id:04d}"

    # --- configuration -----------------------------------------------------------------------------------

    def initial_config(self, query: dict[str, str], default_model: str) -> SessionConfig:
        self._config = SessionConfig(model=default_model, sample_rate=OPENAI_RATE)
        return self._config

    def _model(self, name: object) -> str:
        """A transcription model name (GA or beta field) as the local model that serves it."""
        param = "session.model"  # as before: clients match on it
        if name is not None and not isinstance(name, str):
            raise InvalidRequestError("the transcription model must be a string", param=param)
        if not name:
            return self._default_model
        if name in self._installed:
            return name
        kind = openai_kind(name)  # OpenAI's names: theo_rtc.registry.aliases
        if kind is OpenAIModelKind.TRANSCRIPTION:
            return self._default_model
        shown = name if len(name) <= 80 else name[:80] + "..."
        if kind is not None:
            raise InvalidRequestError(
                f"{shown!r} is a {kind.value} model, not a transcription model (use gpt-4o-transcribe)",
                param=param,
            )
        raise InvalidRequestError(f"model {shown!r} is not installed on this server", param=param)

    def _changes(self, session_obj: dict[str, Any]) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        session_type = session_obj.get("type", "transcription")
        if session_type != "transcription":
            raise InvalidRequestError(
                "only transcription sessions are supported here (connect with ?intent=transcription and send "
                "session.type='transcription')",
                param="session.type",
            )
        audio = _object(session_obj.get("audio"), "session.audio")
        audio_in = _object(audio.get("input"), "session.audio.input")
        fmt = audio_in.get("format") or {}
        if isinstance(fmt, dict) and fmt:
            if fmt.get("type", "audio/pcm") != "audio/pcm":
                raise InvalidRequestError(
                    f"unsupported audio format {str(fmt.get('type'))[:40]!r}; use audio/pcm",
                    param="session.audio.input.format",
                )
            changes["sample_rate"] = _integer(fmt.get("rate", OPENAI_RATE), "session.audio.input.format.rate")
        if session_obj.get("input_audio_format") not in (None, "pcm16"):  # beta
            raise InvalidRequestError("only pcm16 input is supported", param="session.input_audio_format")
        transcription = audio_in.get("transcription") or session_obj.get("input_audio_transcription")
        if transcription is not None:
            transcription = _object(transcription, "session.audio.input.transcription")
            changes["model"] = self._model(transcription.get("model"))
            for field in ("language", "prompt"):
                value = transcription.get(field)
                if value is not None and not isinstance(value, str):
                    raise InvalidRequestError(
                        f"the transcription {field} must be a string",
                        param=f"session.audio.input.transcription.{field}",
                    )
                if value:
                    changes[field] = value
        turn = (
            audio_in["turn_detection"]
            if "turn_detection" in audio_in
            else session_obj.get("turn_detection", "keep")
        )
        if turn is None:
            changes["turn_detection"] = False
        elif isinstance(turn, dict):
            changes["turn_detection"] = True
            param = "session.audio.input.turn_detection"
            if "silence_duration_ms" in turn:
                changes["min_silence_ms"] = _integer(
                    turn["silence_duration_ms"], f"{param}.silence_duration_ms"
                )
            if "prefix_padding_ms" in turn:
                changes["preroll_ms"] = _integer(turn["prefix_padding_ms"], f"{param}.prefix_padding_ms")
            if "threshold" in turn:
                threshold = _number(turn["threshold"], f"{param}.threshold")
                if not 0.0 <= threshold <= 1.0:
                    raise InvalidRequestError("threshold must be between 0 and 1", param=f"{param}.threshold")
                changes["vad_sensitivity"] = (
                    "high" if threshold < 0.4 else "low" if threshold > 0.6 else "normal"
                )
        elif turn != "keep":
            raise InvalidRequestError(
                'turn_detection must be an object ({"type": "server_vad", ...}) or null',
                param="session.audio.input.turn_detection",
            )
        return changes

    def _session_object(self, config: dict[str, Any]) -> dict[str, Any]:
        turn = (
            {
                "type": "server_vad",
                "threshold": 0.5,
                "prefix_padding_ms": config["preroll_ms"],
                "silence_duration_ms": config["min_silence_ms"],
            }
            if config["turn_detection"]
            else None
        )
        return {
            "type": "transcription",
            "object": "realtime.transcription_session",
            "id": f"sess_{self._session_key}",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": config["sample_rate"]},
                    "transcription": {
                        "model": config["model"],
                        "language": config["language"],
                        "prompt": config["prompt"] or "",
                    },
                    "turn_detection": turn,
                    "noise_reduction": None,
                }
            },
            "include": [],
        }

    # --- server events -------------------------------------------------------------------------------------

    def translate(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event["type"]
        segment = event.get("segment_id", 0)
        if kind in ("session.created", "session.configured"):
            name = "session.created" if kind == "session.created" else "session.updated"
            if self._beta:
                name = name.replace("session.", "transcription_session.")
            return [{"type": name, "event_id": _event_id(), "session": self._session_object(event["config"])}]
        if kind == "vad.speech_start" and self._turn_detection(event):
            return [
                {
                    "type": "input_audio_buffer.speech_started",
                    "event_id": _event_id(),
                    "audio_start_ms": event["timestamp_ms"],
                    "item_id": self.item_id(segment),
                }
            ]
        if kind == "vad.speech_end" and self._turn_detection(event):
            return [
                {
                    "type": "input_audio_buffer.speech_stopped",
                    "event_id": _event_id(),
                    "audio_end_ms": event["timestamp_ms"],
                    "item_id": self.item_id(segment),
                }
            ]
        if kind == "input_audio_buffer.committed":
            message = {
                "type": "input_audio_buffer.committed",
                "event_id": _event_id(),
                "previous_item_id": self._previous_item,
                "item_id": self.item_id(segment),
            }
            self._previous_item = self.item_id(segment)
            return [message]
        if kind == "transcript.partial":
            sent = self._delta_sent.get(segment, "")
            text = event["text"]
            if not text.startswith(sent) or len(text) <= len(sent):
                return []
            self._delta_sent[segment] = text
            return [
                {
                    "type": "conversation.item.input_audio_transcription.delta",
                    "event_id": _event_id(),
                    "item_id": self.item_id(segment),
                    "content_index": 0,
                    "delta": text[len(sent) :],
                }
            ]
        if kind in ("transcript.final", "transcript.discarded"):
            self._delta_sent.pop(segment, None)
            return [
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "event_id": _event_id(),
                    "item_id": self.item_id(segment),
                    "content_index": 0,
                    "transcript": event.get("text", ""),
                    "usage": {
                        "type": "duration",
                        "seconds": round((event.get("end_ms", 0) - event.get("start_ms", 0)) / 1000, 3),
                    },
                }
            ]
        if kind == "input_audio_buffer.cleared":
            return [{"type": "input_audio_buffer.cleared", "event_id": _event_id()}]
        if kind == "error":
            return [
                self.error(
                    event.get("code", "error"),
                    event.get("message", ""),
                    recoverable=event.get("recoverable", False),
                )
            ]
        return []  # Theo-only events (state changes, hold, rate limits) have no OpenAI equivalent

    def _turn_detection(self, event: dict[str, Any]) -> bool:
        return self._config is None or self._config.turn_detection

    # --- client events -------------------------------------------------------------------------------------

    async def handle(self, message: dict[str, Any], session: StreamingSession) -> bool:
        kind = message.get("type")
        if kind in ("session.update", "transcription_session.update"):
            self._beta = kind == "transcription_session.update"
            session_obj = message.get("session")
            if not isinstance(session_obj, dict):
                raise InvalidRequestError("session.update needs a 'session' object", param="session")
            await session.configure(self._changes(session_obj))
            self._config = session.config
        elif kind == "input_audio_buffer.append":
            audio = message.get("audio")
            if not isinstance(audio, str):
                raise InvalidRequestError("input_audio_buffer.append needs base64 'audio'", param="audio")
            try:
                data = base64.b64decode(audio, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise InvalidRequestError("'audio' is not valid base64", param="audio") from exc
            session.push_pcm16(data)
        elif kind == "input_audio_buffer.commit":
            if not await session.commit():
                raise InvalidRequestError(
                    "buffer too small: expected at least 100ms of audio", param="input_audio_buffer"
                )
        elif kind == "input_audio_buffer.clear":
            await session.clear()
        else:
            raise UnknownEventError(f"unknown or unsupported event type {kind!r}", param="type")
        return True

    def audio(self, data: bytes, session: StreamingSession) -> None:
        raise InvalidRequestError("send audio as input_audio_buffer.append events (base64)", param="audio")

    def error(
        self,
        code: str,
        message: str,
        *,
        param: str | None = None,
        recoverable: bool = False,
        event_id: str | None = None,
    ) -> dict[str, Any]:
        error_type = (
            "server_error" if code in ("worker_restarted", "internal_error") else "invalid_request_error"
        )
        return {
            "type": "error",
            "event_id": _event_id(),
            "error": {
                "type": error_type,
                "code": code,
                "message": message,
                "param": param,
                "event_id": event_id,
            },
        }
