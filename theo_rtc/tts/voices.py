"""Map OpenAI voice names (alloy, nova, ...) to the voices an engine actually has installed.

Resolution order for a requested voice:
1. an installed native voice id (``pf_dora``, ``en-us``) is used as is, case-insensitively;
2. an explicit override from the model's ``engine_config.voice_map``;
3. an OpenAI name: the engine's preference list for the wanted language, then any installed voice
   of that language with the OpenAI voice's gender, then any voice of the language, then the
   engine's first voice (so a request never fails just because a language has no voice);
4. anything else is an :class:`UnknownVoiceError` (HTTP 400, like OpenAI).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from theo_rtc.backends.types import VoiceInfo
from theo_rtc.errors import InvalidRequestError

# OpenAI's voices and the gender they are usually perceived as; used to pick a matching voice.
OPENAI_VOICES: Mapping[str, str] = {
    "alloy": "female",
    "ash": "male",
    "ballad": "male",
    "coral": "female",
    "echo": "male",
    "fable": "male",
    "nova": "female",
    "onyx": "male",
    "sage": "female",
    "shimmer": "female",
    "verse": "male",
    "marin": "female",
    "cedar": "male",
}

# Per engine and language (primary subtag): OpenAI name -> preferred native voices, best first.
_PREFERRED: Mapping[str, Mapping[str, Mapping[str, tuple[str, ...]]]] = {
    "kokoro": {
        "en": {
            "alloy": ("af_alloy", "af_heart"),
            "ash": ("am_adam", "am_michael"),
            "ballad": ("bm_george", "bm_lewis"),
            "coral": ("af_kore", "af_bella"),
            "echo": ("am_echo", "am_michael"),
            "fable": ("bm_fable", "bm_george"),
            "nova": ("af_nova", "af_heart"),
            "onyx": ("am_onyx", "am_michael"),
            "sage": ("af_sarah", "af_heart"),
            "shimmer": ("af_heart", "af_bella"),
            "verse": ("am_michael", "am_liam"),
            "marin": ("af_aoede", "af_heart"),
            "cedar": ("am_liam", "am_michael"),
        },
        "pt": {name: ("pf_dora",) if g == "female" else ("pm_alex",) for name, g in OPENAI_VOICES.items()},
    },
    "espeak-ng": {
        # espeak-ng variants: "+f3" is its most natural female variant; male is the default.
        "en": {name: ("en-us+f3",) if g == "female" else ("en-us",) for name, g in OPENAI_VOICES.items()},
        "pt": {name: ("pt-br+f3",) if g == "female" else ("pt-br",) for name, g in OPENAI_VOICES.items()},
    },
}

# Default language when neither the request nor the text says which one.
DEFAULT_LANGUAGE = "en"


class UnknownVoiceError(InvalidRequestError):
    code = "invalid_voice"

    def __init__(self, voice: str, available: Sequence[str]) -> None:
        shown = ", ".join(list(available)[:30])
        super().__init__(
            f"voice {voice!r} is not available; use an OpenAI voice name ({', '.join(OPENAI_VOICES)}) "
            f"or one of: {shown}",
            param="voice",
        )


def primary_language(language: str | None) -> str | None:
    """``"pt-BR"`` -> ``"pt"``; ``"en_US"`` -> ``"en"``; empty/None -> None."""
    if not language:
        return None
    return language.replace("_", "-").split("-")[0].lower() or None


def is_openai_voice(name: str) -> bool:
    return name.lower() in OPENAI_VOICES


def resolve_voice(
    requested: str,
    available: Sequence[VoiceInfo],
    *,
    engine: str,
    language: str | None = None,
    overrides: Mapping[str, str] | None = None,
    extra_ids: Sequence[str] = (),
) -> VoiceInfo:
    """Pick the installed voice to use for ``requested`` (see the module docstring for the order).

    ``language`` (any BCP-47-ish code or None) only matters for OpenAI names. ``extra_ids`` are ids
    the engine accepts beyond ``available`` (e.g. espeak-ng ``"en-us+f3"`` variants); they resolve
    to a synthetic :class:`VoiceInfo`.
    """
    if not available:
        raise UnknownVoiceError(requested, [])
    name = requested.strip()
    by_id = {v.id.lower(): v for v in available}
    if name.lower() in by_id:
        return by_id[name.lower()]

    if overrides:
        target = {k.lower(): v for k, v in overrides.items()}.get(name.lower())
        if target and target.lower() in by_id:
            return by_id[target.lower()]

    key = name.lower()
    if key not in OPENAI_VOICES:
        raise UnknownVoiceError(requested, [v.id for v in available])

    lang = primary_language(language) or DEFAULT_LANGUAGE
    extra = {e.lower(): e for e in extra_ids}
    for candidate in _PREFERRED.get(engine, {}).get(lang, {}).get(key, ()):
        if candidate.lower() in by_id:
            return by_id[candidate.lower()]
        if candidate.lower() in extra:
            base = candidate.split("+")[0]
            base_info = by_id.get(base.lower())
            return VoiceInfo(
                id=extra[candidate.lower()],
                name=f"{base_info.name if base_info else base} ({OPENAI_VOICES[key]})",
                language=base_info.language if base_info else base,
                gender=OPENAI_VOICES[key],
            )

    gender = OPENAI_VOICES[key]
    in_lang = [v for v in available if primary_language(v.language) == lang]
    same_gender = [v for v in in_lang if v.gender == gender]
    if same_gender:
        return same_gender[0]
    if in_lang:
        return in_lang[0]
    return available[0]
