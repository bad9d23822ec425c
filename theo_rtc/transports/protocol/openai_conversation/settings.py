"""A conversation session's settings: ``session.update`` (GA and beta shapes) in, the session object out.

GA: ``{"type": "realtime", "output_modalities", "instructions", "audio": {"input": {"format",
"transcription", "turn_detection"}, "output": {"format", "voice", "speed"}}, "tools", "tool_choice",
"max_output_tokens"}``. Beta (``OpenAI-Beta: realtime=v1``): the same at the top level as ``modalities``,
``voice``, ``input_audio_format``, ``output_audio_format``, ``input_audio_transcription``,
``turn_detection``, ``temperature``, ``max_response_output_tokens``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from theo_rtc.errors import InvalidRequestError
from theo_rtc.transports.protocol.openai_conversation.codec import (
    PCM16,
    AudioFormat,
    parse_format,
    unknown_parameter,
)
from theo_rtc.transports.protocol.openai_transcription import _integer, _number, _object

__all__ = ["RealtimeSettings", "check_fields", "parse_limit", "parse_tool_choice", "parse_tools"]

# accepted and without effect here (tracing, caching, noise reduction are OpenAI-side features)
_IGNORED = {
    "include",
    "tracing",
    "truncation",
    "prompt",
    "reasoning",
    "parallel_tool_calls",
    "object",
    "id",
    "expires_at",
    "client_secret",
    "input_audio_noise_reduction",
    "max_output_tokens_per_turn",
}
_GA = {
    "type",
    "model",
    "instructions",
    "output_modalities",
    "audio",
    "tools",
    "tool_choice",
    "temperature",
    "max_output_tokens",
}
_BETA = {
    "modalities",
    "voice",
    "input_audio_format",
    "output_audio_format",
    "input_audio_transcription",
    "turn_detection",
    "max_response_output_tokens",
    "speed",
}
_TURN = {
    "type",
    "create_response",
    "interrupt_response",
    "threshold",
    "prefix_padding_ms",
    "silence_duration_ms",
    "idle_timeout_ms",
    "eagerness",
}
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")


def check_fields(value: dict[str, Any], allowed: set[str], param: str) -> None:
    """OpenAI's ``unknown_parameter`` error for the first field not in ``allowed``."""
    for name in value:
        if name not in allowed:
            raise unknown_parameter(f"{param}.{name}" if param else name)


def parse_tools(value: object, param: str) -> list[dict[str, Any]]:
    """Realtime function tools (``{"type": "function", "name", "description", "parameters"}``)."""
    if not isinstance(value, list) or len(value) > 128:
        raise InvalidRequestError(f"'{param}' must be a list of at most 128 tools", param=param)
    tools = []
    for i, tool in enumerate(value):
        where = f"{param}[{i}]"
        if not isinstance(tool, dict):
            raise InvalidRequestError(f"'{where}' must be an object", param=where)
        check_fields(tool, {"type", "name", "description", "parameters"}, where)
        if tool.get("type", "function") != "function":
            raise InvalidRequestError(
                f"only function tools are supported here (got {str(tool.get('type'))[:30]!r})",
                param=f"{where}.type",
                code="invalid_value",
            )
        from theo_rtc.agent.tools import client_tools  # the agent's own validation of a function spec

        spec = {k: v for k, v in tool.items() if k != "type"}
        try:
            tools.append({"type": "function", **client_tools([spec])[0]})
        except InvalidRequestError as exc:
            raise InvalidRequestError(exc.message.replace("agent.tools[0]", where), param=where) from None
    return tools


@dataclass
class RealtimeSettings:
    instructions: str | None = None  # None: the voice persona for the session's language
    voice: str = "alloy"
    output_modalities: tuple[str, ...] = ("audio",)
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: str | dict[str, Any] = "auto"
    # server_vad by default, as OpenAI's: a turn ends the user's item and starts a response
    turn: dict[str, Any] | None = field(
        default_factory=lambda: {"type": "server_vad", "create_response": True, "interrupt_response": True}
    )
    transcription: dict[str, Any] | None = None  # None: no transcription events (the model still hears)
    input_format: AudioFormat = PCM16
    output_format: AudioFormat = PCM16
    temperature: float = 0.8
    max_output_tokens: int | str = "inf"
    speed: float = 1.0

    @property
    def create_response(self) -> bool:
        return self.turn is not None and self.turn.get("create_response", True) is not False

    @property
    def interrupt_response(self) -> bool:
        return self.turn is not None and self.turn.get("interrupt_response", True) is not False

    # --- session.update ------------------------------------------------------------------------------

    def updated(
        self, session: dict[str, Any], resolve_model: Callable[[object], str], smart_turn: bool
    ) -> tuple[RealtimeSettings, dict[str, Any]]:
        """These settings with ``session``'s fields, and the changes for the streaming session (audio
        rate, turn detection, transcription); raises on the first bad field, changing nothing."""
        check_fields(session, _GA | _BETA | _IGNORED, "session")
        if session.get("type", "realtime") != "realtime":
            raise InvalidRequestError(
                "this is a conversation session (session.type 'realtime'); for transcription only, connect "
                "with ?intent=transcription",
                param="session.type",
                code="invalid_value",
            )
        new = dataclasses.replace(self)
        changes: dict[str, Any] = {}
        audio = _object(session.get("audio"), "session.audio")
        check_fields(audio, {"input", "output"}, "session.audio")
        audio_in = _object(audio.get("input"), "session.audio.input")
        audio_out = _object(audio.get("output"), "session.audio.output")
        check_fields(
            audio_in, {"format", "transcription", "turn_detection", "noise_reduction"}, "session.audio.input"
        )
        check_fields(audio_out, {"format", "voice", "speed"}, "session.audio.output")
        if "instructions" in session:
            new.instructions = _text(session["instructions"], "session.instructions") or None
        modalities = session.get("output_modalities", session.get("modalities"))
        if modalities is not None:
            new.output_modalities = _modalities(modalities)
        for fmt, param in (
            (audio_in.get("format"), "session.audio.input.format"),
            (session.get("input_audio_format"), "session.input_audio_format"),
        ):
            if fmt is not None:
                new.input_format = parse_format(fmt, param)
        for fmt, param in (
            (audio_out.get("format"), "session.audio.output.format"),
            (session.get("output_audio_format"), "session.output_audio_format"),
        ):
            if fmt is not None:
                new.output_format = parse_format(fmt, param)
        voice = audio_out.get("voice", session.get("voice"))
        if voice is not None:
            voice = voice.get("id") if isinstance(voice, dict) else voice
            new.voice = _text(voice, "session.audio.output.voice") or "alloy"
        speed = audio_out.get("speed", session.get("speed"))
        if speed is not None:
            new.speed = _number(speed, "session.audio.output.speed")
            if not 0.25 <= new.speed <= 1.5:
                raise InvalidRequestError(
                    "speed must be between 0.25 and 1.5", param="session.audio.output.speed"
                )
        if "tools" in session:
            new.tools = parse_tools(session["tools"], "session.tools")
        if "tool_choice" in session:
            new.tool_choice = parse_tool_choice(session["tool_choice"], "session.tool_choice")
        if "temperature" in session:
            new.temperature = _number(session["temperature"], "session.temperature")
        limit = session.get("max_output_tokens", session.get("max_response_output_tokens"))
        if limit is not None:
            new.max_output_tokens = parse_limit(limit, "session.max_output_tokens")
        transcription_key = "transcription" if "transcription" in audio_in else None
        if transcription_key or "input_audio_transcription" in session:
            value = audio_in.get("transcription", session.get("input_audio_transcription"))
            param = "session.audio.input.transcription"
            if value is None:
                new.transcription = None
            else:
                value = _object(value, param)
                check_fields(value, {"model", "language", "prompt", "delay", "keywords", "languages"}, param)
                model = resolve_model(value.get("model"))
                new.transcription = {
                    "model": value.get("model") or "gpt-4o-transcribe",
                    "language": value.get("language"),
                    "prompt": value.get("prompt") or "",
                }
                changes["model"] = model
                for name in ("language", "prompt"):
                    if value.get(name) is not None:
                        changes[name] = _text(value[name], f"{param}.{name}") or None
        if "turn_detection" in audio_in or "turn_detection" in session:
            turn = audio_in["turn_detection"] if "turn_detection" in audio_in else session["turn_detection"]
            new.turn = _turn(turn, changes, smart_turn)
        changes["turn_detection"] = new.turn is not None
        changes["sample_rate"] = new.input_format.rate
        return new, changes

    # --- the session object ------------------------------------------------------------------------

    def session_object(self, session_id: str, config: dict[str, Any], beta: bool) -> dict[str, Any]:
        turn: dict[str, Any] | None = None
        if self.turn is not None:
            turn = {"create_response": self.create_response, "interrupt_response": self.interrupt_response}
            if self.turn["type"] == "semantic_vad":
                turn = {"type": "semantic_vad", "eagerness": self.turn.get("eagerness", "auto"), **turn}
            else:
                turn = {
                    "type": "server_vad",
                    "threshold": self.turn.get("threshold", 0.5),
                    "prefix_padding_ms": config["preroll_ms"],
                    "silence_duration_ms": config["min_silence_ms"],
                    "idle_timeout_ms": None,
                    **turn,
                }
        common = {
            "id": session_id,
            "object": "realtime.session",
            "model": "gpt-realtime",
            "instructions": self.instructions or "",
            "tools": self.tools,
            "tool_choice": self.tool_choice,
        }
        if beta:
            return common | {
                "modalities": ["text", "audio"] if "audio" in self.output_modalities else ["text"],
                "voice": self.voice,
                "input_audio_format": self.input_format.beta,
                "output_audio_format": self.output_format.beta,
                "input_audio_transcription": self.transcription,
                "turn_detection": turn,
                "temperature": self.temperature,
                "max_response_output_tokens": self.max_output_tokens,
                "speed": self.speed,
            }
        return common | {
            "type": "realtime",
            "output_modalities": list(self.output_modalities),
            "audio": {
                "input": {
                    "format": self.input_format.wire(),
                    "transcription": self.transcription,
                    "noise_reduction": None,
                    "turn_detection": turn,
                },
                "output": {"format": self.output_format.wire(), "voice": self.voice, "speed": self.speed},
            },
            "max_output_tokens": self.max_output_tokens,
            "tracing": None,
            "truncation": "auto",
            "prompt": None,
            "include": None,
            "expires_at": 0,
        }


def _text(value: object, param: str) -> str:
    if not isinstance(value, str) or len(value) > 16_000:
        raise InvalidRequestError(f"'{param}' must be a string of at most 16000 characters", param=param)
    return value


def _modalities(value: object) -> tuple[str, ...]:
    param = "session.output_modalities"
    if not isinstance(value, list) or not value or any(m not in ("text", "audio") for m in value):
        raise InvalidRequestError(
            "output_modalities must be ['audio'] or ['text']", param=param, code="invalid_value"
        )
    return ("audio",) if "audio" in value else ("text",)


def parse_tool_choice(value: object, param: str) -> str | dict[str, Any]:
    if value in ("auto", "none", "required"):
        return str(value)
    if isinstance(value, dict) and value.get("type") == "function" and isinstance(value.get("name"), str):
        return {"type": "function", "name": value["name"]}
    raise InvalidRequestError(
        "tool_choice must be 'auto', 'none', 'required' or {'type': 'function', 'name': ...}",
        param=param,
        code="invalid_value",
    )


def parse_limit(value: object, param: str) -> int | str:
    if value == "inf":
        return "inf"
    number = _integer(value, param)
    if not 1 <= number <= 4096:
        raise InvalidRequestError("max_output_tokens must be 1 to 4096, or 'inf'", param=param)
    return number


def _turn(value: object, changes: dict[str, Any], smart_turn: bool) -> dict[str, Any] | None:
    """``turn_detection`` as the streaming session's VAD settings; ``None`` turns it off."""
    param = "session.audio.input.turn_detection"
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("type", "server_vad") not in ("server_vad", "semantic_vad"):
        raise InvalidRequestError(
            'turn_detection must be {"type": "server_vad" | "semantic_vad", ...} or null',
            param=param,
            code="invalid_value",
        )
    check_fields(value, _TURN, param)
    turn = {"type": value.get("type", "server_vad")}
    for name in ("create_response", "interrupt_response"):
        if name in value:
            if not isinstance(value[name], bool):
                raise InvalidRequestError(f"{name} must be true or false", param=f"{param}.{name}")
            turn[name] = value[name]
    if turn["type"] == "semantic_vad":
        # semantic VAD is Theo's smart endpointing (Smart Turn) where its model is installed
        eagerness = value.get("eagerness", "auto")
        if eagerness not in ("low", "medium", "high", "auto"):
            raise InvalidRequestError(
                "eagerness must be low, medium, high or auto", param=f"{param}.eagerness"
            )
        turn["eagerness"] = eagerness
        changes["endpointing"] = "smart" if smart_turn else "silence"
        changes["max_silence_ms"] = {"low": 3000, "medium": 1500, "high": 800, "auto": 1500}[eagerness]
        return turn
    changes["endpointing"] = "silence"
    if "silence_duration_ms" in value:
        changes["min_silence_ms"] = _integer(value["silence_duration_ms"], f"{param}.silence_duration_ms")
    if "prefix_padding_ms" in value:
        changes["preroll_ms"] = _integer(value["prefix_padding_ms"], f"{param}.prefix_padding_ms")
    if "threshold" in value:
        threshold = _number(value["threshold"], f"{param}.threshold")
        if not 0.0 <= threshold <= 1.0:
            raise InvalidRequestError("threshold must be between 0 and 1", param=f"{param}.threshold")
        turn["threshold"] = threshold
        changes["vad_sensitivity"] = "high" if threshold < 0.4 else "low" if threshold > 0.6 else "normal"
    return turn
