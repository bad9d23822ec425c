"""Whitespace tokens with their surrounding punctuation split off, shared by the text stages."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

_LEADING = "\"'([{«¿¡“‘"
_TRAILING = ".,;:!?…\"')]}»”’"
# Punctuation that ends a clause: a spoken entity or number never continues past it (a comma may).
CLAUSE_END = frozenset(".;:!?…")


@dataclass(frozen=True, slots=True)
class Token:
    raw: str
    lead: str
    core: str
    trail: str

    @property
    def norm(self) -> str:
        return self.core.lower()

    @property
    def ends_clause(self) -> bool:
        return any(c in CLAUSE_END for c in self.trail)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    for raw in text.split():
        core = raw.lstrip(_LEADING)
        lead = raw[: len(raw) - len(core)]
        stripped = core.rstrip(_TRAILING)
        trail = core[len(stripped) :]
        # A token that is all punctuation keeps it as its core so it survives round trips.
        if not stripped:
            tokens.append(Token(raw, "", raw, ""))
        else:
            tokens.append(Token(raw, lead, stripped, trail))
    return tokens


def strip_accents(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def word_set(words: str) -> frozenset[str]:
    """A frozenset from a whitespace-separated word list (keeps long vocabularies readable)."""
    return frozenset(words.split())
