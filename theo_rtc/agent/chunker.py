"""LLM tokens → speakable pieces, as soon as each one is complete (seed GAP 1: streaming LLM → TTS).

The first piece is cut early (at a clause: a comma, a colon, a dash after a few words) so the caller hears
the answer start while the rest is still being written; later pieces are whole sentences, which TTS engines
phrase better. A full stop is not a sentence end after an abbreviation (``Dr.``, ``Sr.``, ``e.g.``), an
initial (``J. R. R.``), or between digits (``3.5``, ``1.000``): English and Brazilian Portuguese.
"""

from __future__ import annotations

import re

__all__ = ["SentenceChunker"]

_EN = (
    "mr mrs ms dr prof sr jr st vs etc e.g i.e a.m p.m no fig approx dept est inc ltd co "
    "jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun"
)
_PT = (
    "sra srta dra profa av ex pág pag tel n nº obs cia ltda aprox séc sec núm num "
    "jan fev mar abr mai jun jul ago set out nov dez seg ter qua qui sex sáb dom"
)
_ABBREVIATIONS = frozenset(f"{_EN} {_PT}".split(" "))
_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*(?=\s)")
_CLAUSE_END = re.compile(r"[,;:—–]+(?=\s)|\s-\s")
_WORD = re.compile(r"\w+")


class SentenceChunker:
    """Feed text deltas with :meth:`push`; it returns the pieces completed so far. :meth:`flush` returns
    what is left when the stream ends."""

    def __init__(self, *, first_clause_words: int = 4, max_chars: int = 400) -> None:
        self._buffer = ""
        self._first = True
        self._first_clause_words = first_clause_words
        self._max_chars = max_chars

    def push(self, delta: str) -> list[str]:
        self._buffer += delta
        pieces = []
        while (cut := self._cut()) is not None:
            piece, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:].lstrip()
            if piece:
                pieces.append(piece)
                self._first = False
        return pieces

    def flush(self) -> list[str]:
        piece, self._buffer = self._buffer.strip(), ""
        self._first = True
        return [piece] if _WORD.search(piece) else []

    def _cut(self) -> int | None:
        text = self._buffer
        for match in _SENTENCE_END.finditer(text):
            if not self._ends_sentence(text, match.start()):
                continue
            return match.end()
        if self._first:
            for match in _CLAUSE_END.finditer(text):
                if len(_WORD.findall(text[: match.start()])) >= self._first_clause_words:
                    return match.end()
        if len(text) > self._max_chars:
            # A run-on sentence must not hold speech back: cut at the last space.
            space = text.rfind(" ", 0, self._max_chars)
            return space if space > 0 else self._max_chars
        return None

    @staticmethod
    def _ends_sentence(text: str, dot: int) -> bool:
        if text[dot] != ".":
            return True
        before = re.search(r"(\S+)$", text[:dot])
        word = before.group(1).lower().lstrip("(\"'") if before else ""
        if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
            return False
        # "3." followed by digits never reaches here (no whitespace after the dot); "item 3. Next" does.
        return not (word.isdigit() and len(word) <= 2 and _next_is_lower(text, dot))


def _next_is_lower(text: str, dot: int) -> bool:
    rest = text[dot + 1 :].lstrip()
    return bool(rest) and rest[0].islower()
