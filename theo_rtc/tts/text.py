"""Text preparation for TTS: make arbitrary input safe to speak, and cut it into streamable pieces.

Engine-agnostic: every backend gets the same cleaned text and the same sentence boundaries, so
first-audio latency and behaviour on hostile input do not depend on which engine is loaded.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterator

# Characters that are not speech: emoji blocks, pictographs, dingbats, flags, keycaps, variation
# selectors, skin-tone modifiers and emoji tag sequences. Removed rather than named ("smiling face")
# because reading them out is almost never what the author of the text wanted.
_EMOJI = re.compile(
    "["
    "\U0001f000-\U0001faff"  # mahjong .. symbols & pictographs extended-A (includes emoticons)
    "\U0001fb00-\U0001fbff"  # symbols for legacy computing
    "\u2600-\u27bf"  # misc symbols, dingbats
    "\u2b00-\u2bff"  # arrows / stars (⭐, ⬆)
    "\u2300-\u23ff"  # misc technical (⌚, ⏰)
    "\ufe00-\ufe0f"  # variation selectors
    "\u20e3"  # combining keycap
    "\U000e0020-\U000e007f"  # emoji tag sequences (subdivision flags)
    "\u200d"  # zero-width joiner (glues emoji sequences)
    "]+"
)

# SSML/HTML/XML-like markup: tags, comments, CDATA, processing instructions. Only things that look
# like tags (a name right after "<") are removed, so "a < b and c > d" survives.
_MARKUP = re.compile(
    r"<!--.*?-->"
    r"|<!\[CDATA\[.*?\]\]>"
    r"|<\?.*?\?>"
    r"|</?[A-Za-z][\w:.-]*(?:\s+[^<>]*?)?/?>",
    re.DOTALL,
)
# Paragraph/sentence/line-break markup (SSML <p>, <s>, HTML <br>) becomes a line break, i.e. a boundary.
_BREAK_TAG = re.compile(r"<br\b[^<>]*/?>|</(?:p|s)>", re.IGNORECASE)

# Light Markdown that LLM output is full of: emphasis stars, code ticks, heading hashes, quotes.
_MD_EMPHASIS = re.compile(r"(\*{1,3}|`{1,3})")
_MD_LINE_PREFIX = re.compile(r"^[ \t]*(?:#{1,6}[ \t]+|>[ \t]*|[-*+•][ \t]+)", re.MULTILINE)
# Decorative runs ("-----", "=====", "~~~~", "....." beyond an ellipsis).
_DECORATION = re.compile(r"([-=_~*#+])\1{2,}|\.{4,}")

_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+([,.;:!?…)\]}»])")
_HSPACE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def _keep_char(ch: str) -> bool:
    cat = unicodedata.category(ch)
    if ch in "\n\t":
        return True
    # Cc control, Cf format (bidi overrides, zero-width, BOM), Cs lone surrogates, Co private use,
    # Cn unassigned: none of them is speakable and some break phonemizers or the protobuf encoder.
    return cat[0] != "C"


def sanitize_text(text: str) -> str:
    """Return ``text`` safe to hand to any TTS engine; ``""`` if nothing speakable is left.

    Decodes HTML entities, drops SSML/HTML-like tags (pause tags become line breaks), emoji,
    control/format characters and Markdown decoration, and normalizes whitespace. Line breaks
    are kept because :func:`split_sentences` treats them as boundaries.
    """
    text = unicodedata.normalize("NFC", text)
    text = re.sub(r"\r\n?|[\u2028\u2029\x0b\x0c\x85]", "\n", text)
    # Entities first so "&lt;speak&gt;" is treated like the tag it spells.
    text = html.unescape(text)
    text = _BREAK_TAG.sub("\n", text)
    text = _MARKUP.sub(" ", text)
    text = _EMOJI.sub(" ", text)
    text = "".join(ch for ch in text if _keep_char(ch))
    text = _MD_LINE_PREFIX.sub("", text)
    text = _MD_EMPHASIS.sub("", text)
    text = _DECORATION.sub(" ", text)
    text = _HSPACE.sub(" ", text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = _BLANK_LINES.sub("\n", text)
    lines = (line.strip() for line in text.split("\n"))
    text = "\n".join(line for line in lines if has_speech(line))
    return text.strip()


def has_speech(text: str) -> bool:
    """True if ``text`` contains at least one letter or digit (punctuation alone is silence)."""
    return any(ch.isalnum() for ch in text)


# --- sentence splitting ------------------------------------------------------------------------

# Abbreviations after which a period does not end a sentence (lower-cased, without the period).
_ABBREVIATIONS = frozenset(
    {
        # English
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "inc", "ltd",
        "co", "corp", "no", "approx", "dept", "est", "fig", "gen", "gov", "lt", "mt", "rev", "sgt",
        "capt", "col", "u.s", "u.k", "a.m", "p.m", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
        "sep", "sept", "oct", "nov", "dec",
        # Portuguese
        "sra", "srta", "dra", "profa", "exmo", "exma", "ilmo", "ilma", "av", "r", "pág", "pag",
        "p.ex", "obs", "tel", "cia", "ltda", "nº", "n.º", "art", "cap", "vol", "ed", "aprox",
        "min", "máx", "max", "séc", "sec", "v.exa", "v.sa", "s.a", "depto",
    }
)  # fmt: skip

# A candidate boundary: terminal punctuation, optional closing quotes/brackets, then whitespace.
_BOUNDARY = re.compile(r"([.!?…]+)([\"'”’»)\]]*)(\s+)")
_TERMINAL = frozenset(".!?…,;:\"'”’»)]")
_WORD_BEFORE = re.compile(r"([\w.ºª]+)$")
_CLAUSE = re.compile(r"[,;:—–](?=\s)|\s[-–—]\s")

# First piece: long enough to sound natural, short enough that the engine returns it quickly.
FIRST_CHUNK_MIN_CHARS = 12
FIRST_CHUNK_MAX_CHARS = 80
# Later pieces: engines cap input length (Kokoro ~510 phonemes), and shorter pieces stream better.
MAX_CHUNK_CHARS = 300
# Sentences shorter than this ("Hi.", "OK!") are merged with the next one after the first piece.
MIN_CHUNK_CHARS = 20


def _is_abbreviation(before: str) -> bool:
    m = _WORD_BEFORE.search(before)
    if not m:
        return False
    word = m.group(1).lower().rstrip(".")
    if word in _ABBREVIATIONS:
        return True
    # Single-letter initials ("J. K. Rowling") and dotted acronyms ("U.S.A.").
    return (len(word) == 1 and word.isalpha()) or bool(re.fullmatch(r"(?:\w\.)+\w", word))


def _raw_sentences(text: str) -> Iterator[str]:
    for line in text.split("\n"):
        start = 0
        for m in _BOUNDARY.finditer(line):
            punct, end = m.group(1), m.end()
            nxt = line[end : end + 1]
            if punct == ".":
                if _is_abbreviation(line[start : m.start()]):
                    continue
                # "3. item" or "e.g. lower case" continue the sentence; a lowercase start after a
                # period is rarely a new sentence.
                if nxt and nxt.islower():
                    continue
            piece = line[start : m.end(2)].strip()
            if piece:
                yield piece
            start = end
        tail = line[start:].strip()
        if tail:
            yield tail


def _split_long(piece: str, limit: int) -> list[str]:
    """Split ``piece`` into parts of at most ``limit`` chars, at clause marks, else at spaces."""
    out: list[str] = []
    while len(piece) > limit:
        window = piece[: limit + 1]
        cut = -1
        for m in _CLAUSE.finditer(window):
            if m.end() >= limit // 3:  # avoid a tiny fragment
                cut = m.end()
        if cut <= 0:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = limit  # one giant "word": hard cut
        out.append(piece[:cut].strip())
        piece = piece[cut:].strip()
    if piece:
        out.append(piece)
    return [p for p in out if p]


def _split_first(piece: str) -> list[str]:
    """Cut a short lead-in off a long first sentence so the first audio arrives sooner."""
    if len(piece) <= FIRST_CHUNK_MAX_CHARS:
        return [piece]
    window = piece[: FIRST_CHUNK_MAX_CHARS + 1]
    cut = -1
    for m in _CLAUSE.finditer(window):
        if m.end() >= FIRST_CHUNK_MIN_CHARS:
            cut = m.end()
            break  # the earliest clause boundary past the minimum: lowest latency
    if cut <= 0:
        # No clause mark early on: cut at a word boundary near half the maximum.
        cut = piece.rfind(" ", FIRST_CHUNK_MIN_CHARS, FIRST_CHUNK_MAX_CHARS // 2 + 10)
        if cut <= 0:
            cut = piece.rfind(" ", 0, FIRST_CHUNK_MAX_CHARS)
    if cut <= 0:
        return [piece]
    return [piece[:cut].strip(), piece[cut:].strip()]


def split_sentences(
    text: str,
    *,
    max_chars: int = MAX_CHUNK_CHARS,
    short_first: bool = True,
) -> list[str]:
    """Split sanitized text into pieces to synthesize one at a time (English and Portuguese aware).

    Boundaries are sentence ends (``.!?…``, not after abbreviations, initials or numbers like
    "3.14") and line breaks. With ``short_first`` a long first sentence is cut at its first clause
    so time-to-first-audio stays low; afterwards very short sentences are merged with the next
    and long ones are split at clause marks to stay under ``max_chars``.
    """
    sentences = [s for s in _raw_sentences(text) if has_speech(s)]
    pieces: list[str] = []
    for s in sentences:
        pieces.extend(_split_long(s, max_chars))
    if not pieces:
        return []

    head: list[str] = []
    if short_first:
        head = _split_first(pieces[0])
        pieces = pieces[1:]
        if len(head) == 2:
            pieces.insert(0, head.pop())

    merged: list[str] = []
    for p in pieces:
        if merged and len(merged[-1]) < MIN_CHUNK_CHARS and len(merged[-1]) + 2 + len(p) <= max_chars:
            # A line without final punctuation (heading, list item) gets a period so engines pause.
            sep = " " if merged[-1][-1] in _TERMINAL else ". "
            merged[-1] = f"{merged[-1]}{sep}{p}"
        else:
            merged.append(p)
    return head + merged


# --- language guess ----------------------------------------------------------------------------


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


_PT_WORDS = _words(
    "o a os as um uma de do da dos das em no na nos nas que é não com para por mais se como mas "
    "ao à eu você ele ela isso este esta está são foi ser ter tem muito também já obrigado olá "
    "bom dia tudo bem sim meu minha seu sua pelo pela"
)
_EN_WORDS = _words(
    "the a an of and to in is it that for on with as was are be this have you i he she we they "
    "not but at by from or his her my your what will can there their hello thank thanks yes"
)
_PT_CHARS = frozenset("ãõçâêôáéíóúà")
_WORD = re.compile(r"[^\W\d_]+")


def guess_language(text: str) -> str | None:
    """Cheap Portuguese-vs-English guess ("pt"/"en"), ``None`` when there is no evidence.

    Used only to pick a voice when the request names an OpenAI voice and gives no language; a
    native voice always speaks its own language.
    """
    words = [w.lower() for w in _WORD.findall(text[:2000])]
    if not words:
        return None
    pt = sum(w in _PT_WORDS for w in words) + 2 * sum(any(c in _PT_CHARS for c in w) for w in words)
    en = sum(w in _EN_WORDS for w in words)
    if pt == en:
        return None
    return "pt" if pt > en else "en"
