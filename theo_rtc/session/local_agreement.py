"""LocalAgreement-2 (ADR-008): a word is confirmed once two consecutive decodes agree on it.

Encoder-decoder engines re-decode a growing window; their hypotheses flicker at the tail. Only the
longest common prefix of the last two hypotheses is shown as a partial, and it never shrinks.
"""

from __future__ import annotations

import re

_KEY = re.compile(r"[^\w']+")


def _key(word: str) -> str:
    return _KEY.sub("", word.lower())


class LocalAgreement:
    def __init__(self) -> None:
        self._previous: list[str] = []
        self.confirmed: list[str] = []

    def update(self, words: list[str]) -> bool:
        """Feed the words of the newest decode; returns True if the confirmed prefix grew."""
        agreed = 0
        for a, b in zip(self._previous, words, strict=False):
            if _key(a) != _key(b):
                break
            agreed += 1
        self._previous = words
        known = len(self.confirmed)
        # Extend only when the new decode still starts with what was confirmed: if the engine revised an
        # earlier word, showing its new tail after the old prefix would duplicate or garble text.
        consistent = [_key(w) for w in words[:known]] == [_key(w) for w in self.confirmed]
        if agreed > known and consistent:
            self.confirmed = self.confirmed + words[known:agreed]
            return True
        return False

    @property
    def unconfirmed(self) -> list[str]:
        """The newest decode's words after the confirmed prefix (may still change)."""
        known = len(self.confirmed)
        if [_key(w) for w in self._previous[:known]] != [_key(w) for w in self.confirmed]:
            return []
        return self._previous[known:]

    def reset(self) -> None:
        self._previous = []
        self.confirmed = []
