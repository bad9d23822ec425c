"""Which of the supported languages (pt, en) a request or a text is in."""

from __future__ import annotations

from theo_rtc.postprocessing.numbers import EN, PT
from theo_rtc.postprocessing.tokens import tokenize, word_set

SUPPORTED = ("pt", "en")

_ALIASES = {"portuguese": "pt", "português": "pt", "portugues": "pt", "english": "en", "inglês": "en"}

_PT_HINTS = word_set(
    "o a os as de do da dos das que não é em um uma para com por mais meu minha seu sua você eu ele ela "
    "reais centavos cpf cnpj cep telefone conta número são está foi tem"
)
_EN_HINTS = word_set(
    "the a an of and to is are was in on my your it that this for with you i we they not "
    "dollars cents percent number account phone"
)


def normalize_language(language: str | None) -> str | None:
    """'pt-BR', 'pt_br', 'Portuguese' -> 'pt'; 'en-US' -> 'en'; anything else -> None (unsupported)."""
    if not language:
        return None
    code = language.strip().lower().replace("_", "-")
    code = _ALIASES.get(code, code.split("-", 1)[0])
    return code if code in SUPPORTED else None


def guess_language(text: str) -> str | None:
    """Cheap guess for requests without a language: count function words and number words of each."""
    pt = en = 0
    for token in tokenize(text[:2000]):
        word = token.norm
        pt += word in _PT_HINTS or PT.is_number_word(word)
        en += word in _EN_HINTS or EN.is_number_word(word)
    if pt == en:
        return None
    return "pt" if pt > en else "en"


def resolve_language(language: str | None, text: str) -> str | None:
    """The declared language if supported; the guessed one if none was declared; None if unsupported."""
    if language and language.strip().lower() not in ("auto", ""):
        return normalize_language(language)
    return guess_language(text)
