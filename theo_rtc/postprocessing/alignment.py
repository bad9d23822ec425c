"""Keep word timings consistent after the text of a segment was rewritten.

The old words and the new text are aligned with ``difflib``; unchanged words keep their timings, a run
of old words rewritten as new ones ("dois mil e vinte e cinco" -> "2025") hands its time span to them.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from theo_rtc.backends.types import Word

_PUNCT = ".,;:!?…\"'()[]{}«»“”‘’"


def _key(word: str) -> str:
    return word.strip().strip(_PUNCT).lower()


def _split_span(start: float, end: float, texts: Sequence[str]) -> list[tuple[float, float]]:
    """Share [start, end] among ``texts`` in proportion to their length in characters."""
    weights = [max(len(t), 1) for t in texts]
    total = sum(weights)
    spans: list[tuple[float, float]] = []
    cursor = start
    for weight in weights:
        stop = cursor + (end - start) * weight / total
        spans.append((round(cursor, 3), round(stop, 3)))
        cursor = stop
    if spans:
        spans[-1] = (spans[-1][0], end)
    return spans


def realign_words(words: Sequence[Word], new_text: str) -> tuple[Word, ...]:
    """New ``Word`` list for ``new_text`` whose timings come from ``words`` (the engine's, old text)."""
    new_tokens = new_text.split()
    if not words or not new_tokens:
        return ()
    prefix = " " if words[0].word.startswith(" ") else ""
    old_keys = [_key(w.word) for w in words]
    new_keys = [_key(t) for t in new_tokens]
    matcher = difflib.SequenceMatcher(a=old_keys, b=new_keys, autojunk=False)
    out: list[Word] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        texts = new_tokens[j1:j2]
        if tag == "delete":
            continue
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            for old, text in zip(words[i1:i2], texts, strict=True):
                out.append(Word(prefix + text, old.start, old.end, old.probability))
            continue
        if tag == "insert":
            at = out[-1].end if out else words[min(i1, len(words) - 1)].start
            out.extend(Word(prefix + text, at, at, 1.0) for text in texts)
            continue
        olds = words[i1:i2]
        probability = sum(w.probability for w in olds) / len(olds)
        for text, (start, end) in zip(texts, _split_span(olds[0].start, olds[-1].end, texts), strict=True):
            out.append(Word(prefix + text, start, end, probability))
    return tuple(out)
