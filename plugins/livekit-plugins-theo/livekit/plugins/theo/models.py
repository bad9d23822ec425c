"""Model names and the option dataclasses: every default of the plugin lives here.

Constructors take ``NotGivenOr`` arguments (livekit-agents' convention); whatever is not given falls
back to the dataclass defaults below, so ``theo.STT()`` and ``theo.TTS()`` talk to a local
``theo serve`` with its own default models.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Literal

from livekit.agents.utils import is_given

STTModels = Literal["whisper-tiny.en", "whisper-base", "whisper-small", "whisper-large-v3"]
"""Theo's catalog STT models (``theo list -a``); any installed model name works."""

TTSModels = Literal["kokoro-82m", "piper-en-joe", "espeak-ng", "tts-1", "tts-1-hd", "gpt-4o-mini-tts"]
"""Theo's TTS models; the OpenAI names use the best installed one (kokoro-82m, piper-en-joe, espeak-ng)."""

TTSVoices = Literal[
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse",
    "marin", "cedar",
]  # fmt: skip
"""OpenAI voice names Theo maps to an installed voice; native ids (``af_heart``, ``pf_dora``) work too."""

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_STT_MODEL = "whisper-tiny.en"
DEFAULT_TTS_MODEL = "tts-1"
STT_SAMPLE_RATE = 16_000
"""Rate of the PCM16 frames sent on ``WS /v1/realtime``; Theo's engines run at 16 kHz, so this is the
cheapest rate on the wire. Frames pushed at other rates are resampled by livekit-agents."""
TTS_PCM_SAMPLE_RATE = 24_000
"""``POST /v1/audio/speech`` with ``response_format=pcm`` is raw s16le mono at 24 kHz (OpenAI's contract)."""
STT_FRAME_MS = 20
"""Audio is sent in 20 ms binary frames (Theo accepts 20-40 ms)."""

BASE_URL_ENV = "THEO_BASE_URL"
API_KEY_ENV = "THEO_API_KEY"


def _env_base_url() -> str:
    return (os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")


def _env_api_key() -> str | None:
    return os.environ.get(API_KEY_ENV) or None


@dataclass
class STTOptions:
    base_url: str = field(default_factory=_env_base_url)
    model: str = DEFAULT_STT_MODEL
    language: str | None = None
    """``None``: the model's own (English for ``.en`` models, detected for multilingual ones)."""
    api_key: str | None = field(default_factory=_env_api_key)
    hot_words: list[str] = field(default_factory=list)
    sample_rate: int = STT_SAMPLE_RATE

    @classmethod
    def from_given(cls, **given: Any) -> STTOptions:
        return cls(**_only_given(given))

    def replace(self, **given: Any) -> STTOptions:
        return dataclasses.replace(self, **_only_given(given))


@dataclass
class TTSOptions:
    base_url: str = field(default_factory=_env_base_url)
    model: str = DEFAULT_TTS_MODEL
    voice: str | None = None
    """``None``: the model's default voice."""
    speed: float = 1.0
    sample_rate: int = TTS_PCM_SAMPLE_RATE
    """Rate of the frames the plugin emits; anything but 24 kHz is resampled on the client."""
    language: str | None = None
    """Theo extra: language used to map OpenAI voice names; ``None``: guessed from the text."""
    api_key: str | None = field(default_factory=_env_api_key)

    @classmethod
    def from_given(cls, **given: Any) -> TTSOptions:
        return cls(**_only_given(given))

    def replace(self, **given: Any) -> TTSOptions:
        return dataclasses.replace(self, **_only_given(given))


def _only_given(values: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in values.items() if is_given(v)}
    if "base_url" in out:
        out["base_url"] = str(out["base_url"]).rstrip("/")
    if "hot_words" in out:
        out["hot_words"] = [w.strip() for w in out["hot_words"] if w and w.strip()]
    return out
