"""OpenAI's model names, in one table for every surface that takes a model name.

REST (``/v1/audio/transcriptions``, ``/translations``, ``/speech``, ``/voices``) and realtime (the
``?model=`` of ``WS /v1/realtime``, ``session.update`` / ``transcription_session.update``, the GA and beta
field names) look a name up here, so an unmodified OpenAI client can send whatever model name it defaults
to. A name is an alias of a *kind*; each service picks the local model for that kind (the default STT
model, the best installed TTS model). A local model installed under the same name always wins.

Dated snapshots (``gpt-4o-realtime-preview-2024-12-17``, ``gpt-4o-mini-transcribe-2025-03-20``) and
``-latest`` are the name they snapshot.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum

__all__ = ["OPENAI_MODELS", "OpenAIModelKind", "openai_kind", "resolve_stt_alias"]


class OpenAIModelKind(StrEnum):
    TRANSCRIPTION = "transcription"  # speech to text: the default STT model
    CONVERSATION = "conversation"  # speech to speech (Realtime conversation sessions): needs a voice agent
    SPEECH = "speech"  # text to speech: the best installed TTS model


_T, _C, _S = OpenAIModelKind.TRANSCRIPTION, OpenAIModelKind.CONVERSATION, OpenAIModelKind.SPEECH

OPENAI_MODELS: dict[str, OpenAIModelKind] = {
    "whisper-1": _T,
    "gpt-4o-transcribe": _T,
    "gpt-4o-mini-transcribe": _T,
    "gpt-4o-transcribe-diarize": _T,
    "gpt-transcribe": _T,
    "gpt-realtime-whisper": _T,  # Pipecat's OpenAIRealtimeSTTService default
    "gpt-realtime": _C,
    "gpt-realtime-mini": _C,
    "gpt-4o-realtime-preview": _C,  # beta
    "gpt-4o-mini-realtime-preview": _C,  # beta
    "tts-1": _S,
    "tts-1-hd": _S,
    "gpt-4o-mini-tts": _S,
}
"""Every OpenAI name Theo answers to (snapshots of these too), and what kind of model it stands for."""

_SNAPSHOT = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|latest)$")


def openai_kind(name: str | None) -> OpenAIModelKind | None:
    """The kind of model an OpenAI name (or a dated snapshot of one) stands for; ``None`` if it is not one."""
    if not name:
        return None
    kind = OPENAI_MODELS.get(name)
    if kind is None and _SNAPSHOT.search(name):
        kind = OPENAI_MODELS.get(_SNAPSHOT.sub("", name))
    return kind


def resolve_stt_alias(name: str, *, is_installed: Callable[[str], bool], default: str) -> str:
    """``name`` itself, or ``default`` when it is an OpenAI transcription name that is not installed locally.

    Anything else comes back unchanged, so the model store answers ``model_not_found`` for it.
    """
    if openai_kind(name) is OpenAIModelKind.TRANSCRIPTION and not is_installed(name):
        return default
    return name
