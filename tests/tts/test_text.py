"""Input sanitizing and sentence splitting for TTS (engine-agnostic)."""

from __future__ import annotations

import pytest

from theo_rtc.tts.text import (
    FIRST_CHUNK_MAX_CHARS,
    guess_language,
    has_speech,
    sanitize_text,
    split_sentences,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hello\x00 wor\x07ld\x1b[31m!", "Hello world[31m!"),
        ("I love it 😍🔥!", "I love it!"),
        ("Thumbs 👍🏽 up, family 👨‍👩‍👧 and flag 🇧🇷 gone.", "Thumbs up, family and flag gone."),
        ("<speak>Hi <emphasis level='strong'>there</emphasis></speak>", "Hi there"),
        ('Wait <break time="2s"/> now.', "Wait now."),
        ("&lt;speak&gt;Olá &amp; adeus&lt;/speak&gt;", "Olá & adeus"),
        ("<!-- secret --> visible <![CDATA[x]]>", "visible"),
        ("a < b and c > d", "a < b and c > d"),
        ("**Bold** and `code`", "Bold and code"),
        ("zero\u200bwidth\ufeff bidi\u202eevil\u202c", "zerowidth bidievil"),
        ("tabs\tand   spaces\u00a0here", "tabs and spaces here"),
        ("Line one\r\n\r\n\r\nLine two", "Line one\nLine two"),
        ("-----\n=====\n", ""),
        ("😀😀😀", ""),
        ("   ", ""),
        ("<p>First.</p><p>Second.</p>", "First.\nSecond."),
    ],
)
def test_sanitize(raw: str, expected: str) -> None:
    assert sanitize_text(raw) == expected


def test_sanitize_keeps_portuguese_and_symbols() -> None:
    text = "Ação, coração e pão custam R$ 5,50 — 1º lugar © 2024, 25°C."
    assert sanitize_text(text) == text


def test_sanitize_lone_surrogate_and_private_use() -> None:
    assert sanitize_text("ok\ud800 \ue000fine") == "ok fine"


def test_has_speech() -> None:
    assert has_speech("a.") and has_speech("42")
    assert not has_speech("... !? --")


def test_split_english_abbreviations_and_numbers() -> None:
    text = "Dr. Smith lives in the U.S. and earns 3.14 dollars an hour. Mr. J. K. Doe agreed! Really?"
    assert split_sentences(text, short_first=False) == [
        "Dr. Smith lives in the U.S. and earns 3.14 dollars an hour.",
        "Mr. J. K. Doe agreed!",
        "Really?",
    ]
    # A short sentence is merged into the next one (fewer tiny engine calls).
    assert split_sentences("Hello world, this is the start. Ok. Yes. Another sentence follows.") == [
        "Hello world, this is the start.",
        "Ok. Yes. Another sentence follows.",
    ]


def test_split_portuguese() -> None:
    text = (
        "Olá, tudo bem? O Sr. João e a Dra. Maria chegaram às 10h30. Ela disse: vamos embora... "
        "Depois voltou."
    )
    assert split_sentences(text) == [
        "Olá, tudo bem?",
        "O Sr. João e a Dra. Maria chegaram às 10h30.",
        "Ela disse: vamos embora...",
        "Depois voltou.",
    ]


def test_first_chunk_is_short() -> None:
    text = (
        "Once upon a time, in a land far far away, there lived a very old king who had three daughters "
        "and a large castle made of stone. He was happy."
    )
    pieces = split_sentences(text)
    assert pieces[0] == "Once upon a time,"
    assert " ".join(pieces) == text
    assert all(len(p) <= FIRST_CHUNK_MAX_CHARS for p in pieces[:1])


def test_first_chunk_without_clause_cuts_at_word() -> None:
    text = "word " * 60
    pieces = split_sentences(text.strip())
    assert 12 <= len(pieces[0]) <= FIRST_CHUNK_MAX_CHARS
    assert " ".join(pieces).split() == text.split()


def test_long_sentences_respect_max_chars() -> None:
    text = ("This clause is long enough, " * 40).strip()
    pieces = split_sentences(text, max_chars=120)
    assert all(len(p) <= 120 for p in pieces)
    assert " ".join(pieces).split() == text.split()


def test_giant_word_is_hard_cut() -> None:
    pieces = split_sentences("x" * 700, max_chars=300, short_first=False)
    assert [len(p) for p in pieces] == [300, 300, 100]


def test_lines_are_boundaries_and_get_pauses() -> None:
    assert split_sentences("Shopping list\nMilk\nBread and butter for the week", short_first=False) == [
        "Shopping list. Milk. Bread and butter for the week"
    ]
    assert split_sentences("A first full sentence here.\nA second full sentence here.") == [
        "A first full sentence here.",
        "A second full sentence here.",
    ]


def test_split_drops_punctuation_only_pieces_and_empty() -> None:
    assert split_sentences("") == []
    assert split_sentences("... !!! ???") == []


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Olá, tudo bem? Este é um teste em português.", "pt"),
        ("Hello, this is a test of the English voice.", "en"),
        ("Ação", "pt"),
        ("12345", None),
        ("", None),
    ],
)
def test_guess_language(text: str, lang: str | None) -> None:
    assert guess_language(text) == lang
