"""LLM deltas → speakable pieces: cut as soon as a piece is complete, never inside an abbreviation, an
initial or a number (en and pt-BR), the first piece early at a clause."""

from __future__ import annotations

import pytest

from theo_rtc.agent import CircuitBreaker, Conversation, SentenceChunker


def chunk(text: str, *, token_chars: int = 3) -> list[str]:
    """Feed ``text`` in small deltas, as an LLM streams it."""
    chunker = SentenceChunker()
    pieces = []
    for i in range(0, len(text), token_chars):
        pieces += chunker.push(text[i : i + token_chars])
    return pieces + chunker.flush()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Dr. Smith can see you at 3.30 p.m. tomorrow. Is that fine?",
            ["Dr. Smith can see you at 3.30 p.m. tomorrow.", "Is that fine?"],
        ),
        (
            "Well, I checked the order for you, and it ships on Monday. You will get an e-mail.",
            ["Well, I checked the order for you,", "and it ships on Monday.", "You will get an e-mail."],
        ),
        (
            "O Sr. João chega às 10h. A Dra. Ana atende na Av. Paulista, nº 1.000. Obrigado!",
            ["O Sr. João chega às 10h.", "A Dra. Ana atende na Av. Paulista, nº 1.000.", "Obrigado!"],
        ),
        ("J. R. R. Tolkien wrote it... I think.", ["J. R. R. Tolkien wrote it...", "I think."]),
        ("No final stop", ["No final stop"]),
        ("   ", []),
    ],
)
def test_pieces(text: str, expected: list[str]) -> None:
    assert chunk(text) == expected
    assert chunk(text, token_chars=1) == expected


def test_a_piece_is_given_out_as_soon_as_it_is_complete() -> None:
    chunker = SentenceChunker()
    assert chunker.push("It is done. And") == ["It is done."]
    assert chunker.push(" more") == []
    assert chunker.flush() == ["And more"]


def test_a_run_on_sentence_does_not_hold_speech_back() -> None:
    pieces = chunk("word " * 200)
    assert len(pieces) >= 2 and all(len(p) <= 400 for p in pieces)
    assert " ".join(pieces).split() == ["word"] * 200


def test_breaker_opens_after_consecutive_failures_and_closes_on_success() -> None:
    breaker = CircuitBreaker(failures=2, reset_s=3600)
    breaker.record(False)
    assert not breaker.open
    breaker.record(True)
    breaker.record(False)
    assert not breaker.open, "a success resets the count"
    breaker.record(False)
    assert breaker.open
    half_open = CircuitBreaker(failures=1, reset_s=0)
    half_open.record(False)
    assert not half_open.open, "after reset_s one trial goes through"


def test_conversation_is_bounded_and_starts_with_the_caller() -> None:
    conversation = Conversation("be brief", max_messages=3)
    conversation.add_assistant("Hello, how can I help?")  # a greeting before anyone spoke
    conversation.add_user("one")
    conversation.add_user("more")  # two finals in a row: one turn
    conversation.add_assistant("")  # nothing heard: nothing said
    conversation.add_assistant("two")
    conversation.add_user("three")
    conversation.add_assistant("four")
    messages = conversation.messages()
    assert messages[0]["role"] == "system" and messages[0]["content"].startswith("be brief\n\n")
    assert [m["content"] for m in messages[1:]] == ["three", "four"]
    assert '- the caller said: "one more"' in messages[0]["content"], "older turns leave a summary line"
    assert Conversation("x", 10).messages() == [{"role": "system", "content": "x"}]
