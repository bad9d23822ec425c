"""The one table of OpenAI model names (``theo_rtc.registry.aliases``): kinds, snapshots, local names."""

from __future__ import annotations

import pytest

from theo_rtc.registry.aliases import OpenAIModelKind, openai_kind, resolve_stt_alias

T, C, S = OpenAIModelKind.TRANSCRIPTION, OpenAIModelKind.CONVERSATION, OpenAIModelKind.SPEECH


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("whisper-1", T),
        ("gpt-4o-transcribe", T),
        ("gpt-4o-mini-transcribe", T),
        ("gpt-4o-mini-transcribe-2025-03-20", T),
        ("gpt-4o-transcribe-latest", T),
        ("gpt-transcribe", T),
        ("gpt-realtime-whisper", T),
        ("gpt-realtime", C),
        ("gpt-realtime-2025-08-28", C),
        ("gpt-realtime-mini", C),
        ("gpt-4o-realtime-preview", C),
        ("gpt-4o-realtime-preview-2024-12-17", C),
        ("gpt-4o-mini-realtime-preview-2024-12-17", C),
        ("tts-1", S),
        ("gpt-4o-mini-tts-2025-12-15", S),
        ("whisper-tiny.en", None),
        ("gpt-4o-transcribe-v2", None),  # not a snapshot suffix
        ("whisper-1-2025", None),
        ("", None),
        (None, None),
    ],
)
def test_kinds(name: str | None, kind: OpenAIModelKind | None) -> None:
    assert openai_kind(name) is kind


def test_stt_resolution_prefers_a_local_model_of_that_name() -> None:
    def nothing(name: str) -> bool:
        return False

    assert resolve_stt_alias("gpt-4o-transcribe", is_installed=nothing, default="whisper-tiny.en") == (
        "whisper-tiny.en"
    )
    assert resolve_stt_alias("whisper-1", is_installed=lambda n: n == "whisper-1", default="x") == "whisper-1"
    # Not a transcription name: unchanged, so the store answers model_not_found for it.
    assert resolve_stt_alias("gpt-realtime", is_installed=nothing, default="x") == "gpt-realtime"
    assert resolve_stt_alias("whisper-base", is_installed=nothing, default="x") == "whisper-base"
