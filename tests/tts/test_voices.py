"""OpenAI voice names -> installed native voices."""

from __future__ import annotations

import pytest

from theo_rtc.backends.types import VoiceInfo
from theo_rtc.tts.voices import OPENAI_VOICES, UnknownVoiceError, primary_language, resolve_voice

KOKORO = [
    VoiceInfo("af_heart", "Heart", "en-US", "female"),
    VoiceInfo("af_nova", "Nova", "en-US", "female"),
    VoiceInfo("am_onyx", "Onyx", "en-US", "male"),
    VoiceInfo("bm_fable", "Fable", "en-GB", "male"),
    VoiceInfo("pf_dora", "Dora", "pt-BR", "female"),
    VoiceInfo("pm_alex", "Alex", "pt-BR", "male"),
]


@pytest.mark.parametrize(
    ("requested", "language", "expected"),
    [
        ("nova", None, "af_nova"),
        ("NOVA", "en-US", "af_nova"),
        ("onyx", None, "am_onyx"),
        ("fable", "en", "bm_fable"),
        ("nova", "pt-BR", "pf_dora"),
        ("shimmer", "pt", "pf_dora"),
        ("echo", "pt_BR", "pm_alex"),
        ("alloy", None, "af_heart"),  # af_alloy not installed: next preference
        ("ash", None, "am_onyx"),  # no preferred voice installed: same gender, same language
        ("pf_dora", "en", "pf_dora"),  # native ids win whatever the language
        ("PM_ALEX", None, "pm_alex"),
        ("coral", "ja", "af_heart"),  # no voice in that language: never fail
    ],
)
def test_kokoro_mapping(requested: str, language: str | None, expected: str) -> None:
    assert resolve_voice(requested, KOKORO, engine="kokoro", language=language).id == expected


def test_every_openai_voice_resolves_for_every_engine() -> None:
    single = [VoiceInfo("joe", "Joe", "en-US")]
    for name in OPENAI_VOICES:
        assert resolve_voice(name, single, engine="piper").id == "joe"
        assert resolve_voice(name, KOKORO, engine="kokoro", language="pt").id in {"pf_dora", "pm_alex"}


def test_overrides() -> None:
    assert resolve_voice("nova", KOKORO, engine="kokoro", overrides={"Nova": "pf_dora"}).id == "pf_dora"


def test_espeak_variants() -> None:
    voices = [
        VoiceInfo("en-us", "English", "en-us", "male"),
        VoiceInfo("pt-br", "Portuguese", "pt-br", "male"),
    ]
    extra = ["en-us+f3", "pt-br+f3"]
    assert resolve_voice("nova", voices, engine="espeak-ng", extra_ids=extra).id == "en-us+f3"
    assert resolve_voice("onyx", voices, engine="espeak-ng", language="pt", extra_ids=extra).id == "pt-br"
    pt_female = resolve_voice("sage", voices, engine="espeak-ng", language="pt-BR", extra_ids=extra)
    assert (pt_female.id, pt_female.gender, pt_female.language) == ("pt-br+f3", "female", "pt-br")


def test_unknown_voice_is_a_400() -> None:
    with pytest.raises(UnknownVoiceError) as info:
        resolve_voice("darth", KOKORO, engine="kokoro")
    assert info.value.status_code == 400 and info.value.param == "voice"
    assert "pf_dora" in info.value.message


def test_primary_language() -> None:
    assert primary_language("pt-BR") == "pt"
    assert primary_language("en_US") == "en"
    assert primary_language("") is None
