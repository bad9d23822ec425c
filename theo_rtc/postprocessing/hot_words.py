"""Hot-word correction: replace near misses of the caller's vocabulary ("pics" -> "PIX").

A word (or two or three adjacent words joined, for "se lic" -> "Selic") is replaced when it is close to a
hot word both in spelling (``rapidfuzz`` ratio) and in a rough phonetic key (consonant skeleton after
Portuguese/English spelling rules), so that "peixe" stays "peixe" with the hot word PIX while "pics" and
"piks" do not. Frequent words of either language are never replaced unless they match exactly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from theo_rtc.postprocessing.tokens import Token, strip_accents, tokenize, word_set

# Hot words come from clients: bounded before any processing (``parse_hot_words``), and again here.
MAX_HOT_WORDS = 200
MAX_HOT_WORDS_CHARS = 8_000  # the whole list, separators included
MAX_HOT_WORD_CHARS = 64  # one hot word
MAX_HOT_WORD_TOKENS = 4  # "Banco do Brasil": a hot word of n words makes every position try n+1 spans
_MIN_CHARS = 3
_MAX_EXTRA_TOKENS = 1  # a hot word of n words may have been heard as n+1

# Words too frequent to ever be a misheard hot word.
_COMMON = word_set("""
    a o e é as os um uma uns umas de do da dos das no na nos nas em por para pra pro com sem que se
    não sim mas mais menos muito muita pouco já até ou eu tu ele ela nós vós eles elas me te lhe meu minha
    seu sua teu tua nosso nossa isso isto aquilo esse essa este esta aqui ali lá então quando como onde
    qual quem porque pois ser ter estar fazer ir vir ver dar dizer tem têm está são foi era vai vou
    fiz faz pode posso quero quer obrigado obrigada bom boa dia tarde noite peixe seis sete
    the a an and or but of to in on at for with from by as is are was were be been being have has had
    do does did not no yes this that these those it its he she we they you i me my your our their his her
    him them what which who whom when where why how all any some can could will would shall should may
    might must just so than then there here very too also only about into over after before up down out
    off again further once six fix mix pick picks tax text set sell cell
    """)


@dataclass(frozen=True, slots=True)
class HotWord:
    written: str  # as the caller spelled it, the replacement
    norm: str  # lower-case, accents stripped, spaces removed
    key: str
    words: int


_DIGRAPHS = [
    ("ph", "f"), ("ch", "S"), ("sh", "S"), ("lh", "l"), ("nh", "n"), ("qu", "k"), ("ck", "k"),
    ("gue", "ge"), ("gui", "gi"), ("ss", "s"), ("th", "t"),
]  # fmt: skip
_SOFT_C = re.compile(r"c(?=[eiy])")
_FINAL_X = re.compile(r"x$")


def phonetic_key(word: str) -> str:
    """Consonant skeleton after rough pt/en spelling-to-sound rules: 'selique' and 'Selic' -> 'slk'."""
    text = word.lower().replace("ç", "s")
    text = strip_accents(text)
    text = "".join(c for c in text if c.isalpha())
    if not text:
        return ""
    for digraph, sound in _DIGRAPHS:
        text = text.replace(digraph, sound)
    text = _SOFT_C.sub("s", text)
    # A final x is "ks" in borrowed words (PIX, fax, xerox); inside a Portuguese word it is "sh" (peixe).
    text = _FINAL_X.sub("ks", text)
    text = text.replace("x", "S").replace("c", "k").replace("q", "k").replace("w", "v").replace("z", "s")
    text = text.replace("y", "i").replace("h", "")
    if not text:
        return ""
    skeleton = text[0] + "".join(c for c in text[1:] if c not in "aeiou")
    collapsed = [skeleton[0]]
    for c in skeleton[1:]:
        if c != collapsed[-1]:
            collapsed.append(c)
    return "".join(collapsed)


def _norm(text: str) -> str:
    return strip_accents(text.lower()).replace(" ", "").replace("-", "")


def prepare_hot_words(hot_words: Sequence[str]) -> list[HotWord]:
    prepared: dict[str, HotWord] = {}
    for raw in hot_words[:MAX_HOT_WORDS]:
        if len(raw) > 4 * MAX_HOT_WORD_CHARS:
            continue
        written = " ".join(raw.split())
        norm = _norm(written)
        if len(norm) < 2 or norm in prepared:
            continue
        if len(written) > MAX_HOT_WORD_CHARS or written.count(" ") >= MAX_HOT_WORD_TOKENS:
            continue
        prepared[norm] = HotWord(written, norm, phonetic_key(norm), len(written.split()))
    return list(prepared.values())


def _accept(candidate: str, hot: HotWord, score: float, joined: bool) -> bool:
    if candidate == hot.norm:
        return True
    if len(candidate) < _MIN_CHARS or (
        candidate[0] != hot.norm[0] and phonetic_key(candidate)[:1] != hot.key[:1]
    ):
        return False
    key_distance = Levenshtein.distance(phonetic_key(candidate), hot.key)
    if joined and score < 80:
        return False  # joining words is riskier: require a close spelling too
    if key_distance == 0 and score >= 50:
        return True
    if key_distance <= 1 and len(hot.key) >= 4 and score >= 75:
        return True
    return score >= 90 and len(hot.norm) >= 5


class HotWordCorrector:
    """Stateless: hot words come with each call (per request or per session)."""

    def correct(self, text: str, hot_words: Sequence[str]) -> tuple[str, list[str]]:
        """Return the corrected text and the hot words that were applied (once per replacement)."""
        prepared = prepare_hot_words(hot_words)
        if not prepared or not text.strip():
            return text, []
        tokens = tokenize(text)
        norms = [_norm(t.core) for t in tokens]
        choices = [h.norm for h in prepared]
        known = frozenset(choices)
        max_words = max(h.words for h in prepared) + _MAX_EXTRA_TOKENS
        pieces: list[str] = []
        hits: list[str] = []
        i = 0
        while i < len(tokens):
            best = self._best_at(tokens, norms, i, prepared, choices, known, max_words)
            if best is None:
                pieces.append(tokens[i].raw)
                i += 1
                continue
            hot, length = best
            original = " ".join(t.core for t in tokens[i : i + length])
            if original != hot.written:
                hits.append(hot.written)
            pieces.append(tokens[i].lead + hot.written + tokens[i + length - 1].trail)
            i += length
        return (" ".join(pieces), hits) if hits else (text, [])

    def _best_at(
        self,
        tokens: Sequence[Token],
        norms: Sequence[str],
        i: int,
        prepared: Sequence[HotWord],
        choices: Sequence[str],
        known: frozenset[str],
        max_words: int,
    ) -> tuple[HotWord, int] | None:
        best: tuple[float, int, HotWord] | None = None
        for length in range(1, max_words + 1):
            if i + length > len(tokens):
                break
            span = tokens[i : i + length]
            if any(t.trail for t in span[:-1]) or any(t.lead for t in span[1:]):
                break  # never join across punctuation
            if any(any(c.isdigit() for c in t.core) for t in span):
                break
            candidate = "".join(norms[i : i + length])
            if not candidate:
                break
            if length > 1 and any(norms[k] in known for k in range(i, i + length)):
                break  # "no Nubank" must not swallow "no": a word of the span already is a hot word
            found = process.extractOne(candidate, choices, scorer=fuzz.ratio)
            if found is None:
                continue
            _, score, index = found
            hot = prepared[index]
            exact = candidate == hot.norm
            if not exact and (length > hot.words + _MAX_EXTRA_TOKENS or length < hot.words):
                continue
            if not exact and length == 1 and candidate in _COMMON:
                continue
            if not _accept(candidate, hot, score, joined=length > hot.words):
                continue
            rank = (200.0 if exact else score, -length)
            if best is None or rank > (best[0], -best[1]):
                best = (rank[0], length, hot)
        return None if best is None else (best[2], best[1])
