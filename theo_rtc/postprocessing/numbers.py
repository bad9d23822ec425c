"""Spoken cardinal numbers in Portuguese and English: lexicon and a greedy parser over tokens.

The entity stage needs to know where one spoken number ends and the next begins ("cento e vinte e três
quatrocentos e cinquenta e seis" is 123 then 456, "um dois três" is 1, 2, 3) and to keep leading zeros of
dictated digits; NeMo's grammars only give the final string, so this small parser does it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class NumberLexicon:
    units: Mapping[str, int]
    teens: Mapping[str, int]
    tens: Mapping[str, int]
    hundreds: Mapping[str, int]  # words that are a whole hundred ("duzentos")
    hundred_multiplier: frozenset[str]  # "hundred": multiplies the group before it
    scales: Mapping[str, int]
    connectors: frozenset[str]
    # Words that are a digit only while dictating digits ("meia" = 6 in "nove meia", "oh" = 0).
    dictation_digits: Mapping[str, int] = field(default_factory=dict)
    zero: frozenset[str] = frozenset()
    scale_needs_count: frozenset[str] = frozenset()  # scales that cannot stand alone ("milhão", "thousand")

    def is_number_word(self, word: str) -> bool:
        return (
            word in self.units
            or word in self.teens
            or word in self.tens
            or word in self.hundreds
            or word in self.hundred_multiplier
            or word in self.scales
        )


PT = NumberLexicon(
    units={
        "zero": 0, "um": 1, "uma": 1, "dois": 2, "duas": 2, "três": 3, "tres": 3, "quatro": 4,
        "cinco": 5, "seis": 6, "sete": 7, "oito": 8, "nove": 9,
    },
    teens={
        "dez": 10, "onze": 11, "doze": 12, "treze": 13, "catorze": 14, "quatorze": 14, "quinze": 15,
        "dezesseis": 16, "dezasseis": 16, "dezessete": 17, "dezassete": 17, "dezoito": 18,
        "dezenove": 19, "dezanove": 19,
    },
    tens={
        "vinte": 20, "trinta": 30, "quarenta": 40, "cinquenta": 50, "cinqüenta": 50, "sessenta": 60,
        "setenta": 70, "oitenta": 80, "noventa": 90,
    },
    hundreds={
        "cem": 100, "cento": 100, "duzentos": 200, "duzentas": 200, "trezentos": 300, "trezentas": 300,
        "quatrocentos": 400, "quatrocentas": 400, "quinhentos": 500, "quinhentas": 500,
        "seiscentos": 600, "seiscentas": 600, "setecentos": 700, "setecentas": 700,
        "oitocentos": 800, "oitocentas": 800, "novecentos": 900, "novecentas": 900,
    },
    hundred_multiplier=frozenset(),
    scales={
        "mil": 1_000, "milhão": 1_000_000, "milhao": 1_000_000, "milhões": 1_000_000,
        "milhoes": 1_000_000, "bilhão": 1_000_000_000, "bilhao": 1_000_000_000,
        "bilhões": 1_000_000_000, "bilhoes": 1_000_000_000,
    },
    connectors=frozenset({"e"}),
    dictation_digits={"meia": 6},
    zero=frozenset({"zero"}),
    scale_needs_count=frozenset(
        {"milhão", "milhao", "milhões", "milhoes", "bilhão", "bilhao", "bilhões", "bilhoes"}
    ),
)  # fmt: skip

EN = NumberLexicon(
    units={
        "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
        "eight": 8, "nine": 9,
    },
    teens={
        "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
        "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    },
    tens={
        "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
        "eighty": 80, "ninety": 90,
    },
    hundreds={},
    hundred_multiplier=frozenset({"hundred"}),
    scales={"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000},
    connectors=frozenset({"and"}),
    dictation_digits={"oh": 0, "o": 0},
    zero=frozenset({"zero"}),
    scale_needs_count=frozenset({"thousand", "million", "billion"}),
)  # fmt: skip

LEXICONS: dict[str, NumberLexicon] = {"pt": PT, "en": EN}

# Place of the last element of the group being built: a new element must have a lower place.
_EMPTY, _HUNDREDS, _TENS, _UNITS = 4, 3, 2, 1


@dataclass(frozen=True, slots=True)
class SpokenNumber:
    value: int
    start: int  # index of the first token
    end: int  # index after the last token
    words: int  # number words (connectors excluded)
    dictated_digit: bool  # a lone digit word ("três", "zero", "meia"): part of digit-by-digit dictation

    @property
    def digits(self) -> str:
        return str(self.value)


def parse_number(
    words: Sequence[str], i: int, lex: NumberLexicon, *, dictation: bool = False, limit: int | None = None
) -> SpokenNumber | None:
    """Parse the longest spoken cardinal starting at ``words[i]`` (lower-cased, punctuation stripped).

    ``dictation`` accepts words that are digits only when reading digits out ("meia" = 6, "oh" = 0).
    ``limit`` (exclusive) stops the number there, e.g. at a comma. Returns None when ``words[i]`` does not
    start a number.
    """
    n = len(words) if limit is None else min(limit, len(words))
    if i >= n:
        return None
    first = words[i]
    if first in lex.zero:
        return SpokenNumber(0, i, i + 1, 1, True)
    if dictation and first in lex.dictation_digits:
        return SpokenNumber(lex.dictation_digits[first], i, i + 1, 1, True)

    total = 0
    group = 0
    place = _EMPTY
    last_scale = 10**15
    count = 0
    end = i
    j = i
    while j < n:
        word = words[j]
        if word in lex.connectors:
            # A connector belongs to the number only if a number word that can attach follows it.
            if count == 0 or j + 1 >= n:
                break
            j += 1
            continue
        if word in lex.units and word not in lex.zero:
            if place <= _UNITS:
                break
            group += lex.units[word]
            place = _UNITS
        elif word in lex.teens:
            if place <= _TENS:
                break
            group += lex.teens[word]
            place = _UNITS
        elif word in lex.tens:
            if place <= _TENS:
                break
            group += lex.tens[word]
            place = _TENS
        elif word in lex.hundreds:
            if place != _EMPTY:
                break
            group += lex.hundreds[word]
            place = _HUNDREDS
        elif word in lex.hundred_multiplier:
            if not 0 < group < 100 or place == _HUNDREDS or group % 100 == 0:
                break
            group *= 100
            place = _HUNDREDS
        elif word in lex.scales:
            scale = lex.scales[word]
            if scale >= last_scale or (group == 0 and word in lex.scale_needs_count):
                break
            total += max(group, 1) * scale
            group = 0
            place = _EMPTY
            last_scale = scale
        else:
            break
        count += 1
        j += 1
        end = j
    if count == 0:
        return None
    value = total + group
    dictated = count == 1 and words[i] in lex.units
    return SpokenNumber(value, i, end, count, dictated)
