"""What a client can configure for a streaming session (``session.configure``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from theo_rtc.errors import InvalidRequestError
from theo_rtc.vad import Sensitivity


class SessionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = "whisper-tiny.en"
    language: str | None = None
    sample_rate: int = Field(
        default=16_000, ge=8_000, le=192_000, description="Rate of the PCM16 frames the client sends"
    )
    vad_sensitivity: Sensitivity = Sensitivity.NORMAL
    turn_detection: bool = Field(default=True, description="Commit on VAD speech end; False = client commits")
    min_silence_ms: int = Field(default=400, ge=100, le=5_000, description="Silence that ends an utterance")
    endpointing: Literal["silence", "smart"] = Field(
        default="silence",
        description="silence: a turn ends after min_silence_ms; smart: after min_silence_ms the Smart Turn "
        "model decides, an incomplete turn waits for more speech up to max_silence_ms",
    )
    max_silence_ms: int = Field(default=1_500, ge=200, le=10_000, description="Smart endpointing's limit")
    preroll_ms: int = Field(default=300, ge=0, le=2_000, description="Audio kept before speech start")
    partial_interval_ms: int = Field(default=300, ge=100, le=5_000, description="Audio between decodes")
    partials: bool = True
    early_final: bool = Field(
        default=True,
        description="Decode the utterance as a final would once its pause reaches the commit tail (200 ms), "
        "so the final is ready when the pause reaches min_silence_ms; costs one decode when speech resumes",
    )
    hot_words: list[str] = Field(default_factory=list, max_length=200)
    prompt: str | None = None
    cross_segment_context: bool = Field(
        default=False,
        description="Also prompt each utterance with the previous confident finals. Off by default: on "
        "whisper-tiny.en and whisper-base it makes up text at utterance ends and repeats earlier mistakes "
        "(bench/multi_utterance.py)",
    )
    itn: bool | None = None
    domain: Literal["banking", "telecom", "generic"] | None = None
    tts_model: str | None = None
    tts_voice: str | None = None

    def updated(self, changes: dict[str, Any]) -> SessionConfig:
        """This config with ``changes`` (``session.configure``) applied and validated as a whole."""
        try:
            return SessionConfig.model_validate(self.model_dump() | changes)
        except ValidationError as exc:
            first = exc.errors()[0]
            param = ".".join(str(p) for p in first["loc"])
            raise InvalidRequestError(
                f"invalid session.configure: {param}: {first['msg']}", param=param
            ) from exc
