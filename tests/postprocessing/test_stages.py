"""Unit tests of the stages that need no NeMo: documents, entity rules by domain, hot words, numbers."""

from __future__ import annotations

import pytest

from theo_rtc.postprocessing import EntityFormatter, HotWordCorrector
from theo_rtc.postprocessing.br_documents import cnpj_valid, cpf_valid, format_phone
from theo_rtc.postprocessing.hot_words import phonetic_key
from theo_rtc.postprocessing.language import guess_language, normalize_language
from theo_rtc.postprocessing.numbers import EN, PT, parse_number

fmt = EntityFormatter()
hot = HotWordCorrector()


@pytest.mark.parametrize("cpf", ["52998224725", "11144477735", "12345678909", "39053344705"])
def test_valid_cpfs(cpf: str) -> None:
    assert cpf_valid(cpf)


@pytest.mark.parametrize("cpf", ["52998224724", "12345678900", "11111111111", "1234567890", "abcdefghijk"])
def test_invalid_cpfs(cpf: str) -> None:
    assert not cpf_valid(cpf)


def test_cnpj_check_digits() -> None:
    assert cnpj_valid("11222333000181") and cnpj_valid("11444777000161")
    assert not cnpj_valid("11222333000182") and not cnpj_valid("00000000000000")


@pytest.mark.parametrize(
    ("digits", "keyword", "expected"),
    [
        ("11987654321", False, "(11) 98765-4321"),
        ("2132105432", False, "(21) 3210-5432"),
        ("5511987654321", False, "+55 (11) 98765-4321"),
        ("08007701234", False, "0800 770 1234"),
        ("987654321", False, None),
        ("987654321", True, "98765-4321"),
        ("10987654321", False, None),  # DDD 10 does not exist
        ("11187654321", False, None),  # 11 digits but no mobile 9
    ],
)
def test_phone_shapes(digits: str, keyword: bool, expected: str | None) -> None:
    assert format_phone(digits, keyword=keyword) == expected


def test_domain_decides_ambiguous_runs() -> None:
    # 529.982.247-25 is a valid CPF and not phone-shaped: a CPF in every domain
    spoken = "cinco dois nove nove oito dois dois quatro sete dois cinco"
    for domain in ("banking", "telecom", "generic"):
        assert fmt.format(spoken, "pt", domain) == "529.982.247-25"  # type: ignore[arg-type]
    # 11987654374 is both a valid CPF and a valid mobile number: banking reads a CPF, telecom a phone
    assert cpf_valid("11987654374") and format_phone("11987654374")
    both = "um um nove oito sete seis cinco quatro três sete quatro"
    assert fmt.format(both, "pt", "banking") == "119.876.543-74"
    assert fmt.format(both, "pt", "generic") == "119.876.543-74"
    assert fmt.format(both, "pt", "telecom") == "(11) 98765-4374"


def test_keyword_beats_domain() -> None:
    assert fmt.format(
        "meu telefone é um um nove oito sete seis cinco quatro três dois um", "pt", "banking"
    ) == ("meu telefone é (11) 98765-4321")


def test_invalid_cpf_stays_digits_not_phone() -> None:
    # NeMo alone would write "(12) 34567-8900"; the entity stage keeps the dictated digits
    assert (
        fmt.format("cpf um dois três quatro cinco seis sete oito nove zero zero", "pt") == "cpf 12345678900"
    )


def test_short_counts_are_not_entities() -> None:
    for text in ("um dois três", "dois mil e vinte e cinco", "tenho dois filhos", "nove meia"):
        assert fmt.format(text, "pt") == text


def test_entity_punctuation_kept() -> None:
    assert fmt.format("CEP: zero um três um zero um zero zero.", "pt") == "CEP: 01310-100."
    assert fmt.format("(onze) nove oito sete seis cinco quatro três dois um", "pt", "telecom").count("(") == 1


@pytest.mark.parametrize(
    ("words", "value", "end"),
    [
        ("dois mil e vinte e cinco", 2025, 6),
        ("cento e vinte e três quatrocentos", 123, 5),
        ("um milhão e duzentos mil", 1_200_000, 5),
        ("mil e quinhentos", 1500, 3),
        ("vinte três", 23, 2),
        ("três e meia", 3, 1),
        ("zero nove", 0, 1),
    ],
)
def test_parse_pt_numbers(words: str, value: int, end: int) -> None:
    number = parse_number(words.split(), 0, PT)
    assert number is not None and (number.value, number.end) == (value, end)


def test_parse_en_numbers() -> None:
    number = parse_number(["nineteen", "hundred", "and", "five"], 0, EN)
    assert number is not None and number.value == 1905
    number = parse_number(["one", "hundred", "twenty", "three", "thousand", "four", "hundred"], 0, EN)
    assert number is not None and number.value == 123_400
    assert parse_number(["thousand"], 0, EN) is None
    assert parse_number(["meia"], 0, PT) is None
    meia = parse_number(["meia"], 0, PT, dictation=True)
    assert meia is not None and meia.value == 6


# --- hot words ---
HOT = ("PIX", "TED", "Selic", "Banco Central", "Itaú")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fiz um pics", "fiz um PIX"),
        ("paguei com piks", "paguei com PIX"),
        ("a selique subiu", "a Selic subiu"),
        ("a se lic subiu", "a Selic subiu"),
        ("uma tedi", "uma TED"),
        ("o banco central", "o Banco Central"),
        ("conta no itau.", "conta no Itaú."),
        ("Pix!", "PIX!"),
    ],
)
def test_hot_word_near_misses(text: str, expected: str) -> None:
    assert hot.correct(text, HOT)[0] == expected


@pytest.mark.parametrize(
    "text",
    [
        "o peixe estava bom",
        "the fix is in",
        "six apples",
        "a taxa de seis por cento",
        "o selo postal",
        "ela tem",
        "ted talks are long",  # exact, case differs -> corrected (checked below)
        "são seis e sete",
        "piscina",
        "tenho sede",
        "pais e filhos",
        "a pizza chegou",
        "o sistema caiu",
        "a sede do banco",
    ],
)
def test_hot_words_leave_common_words(text: str) -> None:
    out, hits = hot.correct(text, HOT)
    if text.startswith("ted"):
        assert out == "TED talks are long" and hits == ["TED"]
    else:
        assert out == text and hits == []


def test_hot_words_already_correct_are_not_hits() -> None:
    assert hot.correct("fiz um PIX", HOT) == ("fiz um PIX", [])


def test_phonetic_key() -> None:
    assert phonetic_key("pics") == phonetic_key("PIX") != phonetic_key("peixe")
    assert phonetic_key("selique") == phonetic_key("Selic")
    assert phonetic_key("") == "" and phonetic_key("!!") == ""


def test_language_helpers() -> None:
    assert (
        normalize_language("pt-BR") == normalize_language("pt_br") == normalize_language("Portuguese") == "pt"
    )
    assert normalize_language("en-US") == "en"
    assert normalize_language("de") is None and normalize_language(None) is None
    assert guess_language("eu paguei dez reais") == "pt"
    assert guess_language("I paid ten dollars") == "en"
    assert guess_language("") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call me at five five five one two three four five six seven", "call me at 555-123-4567"),
        ("one eight hundred, five five five, zero one nine nine", "1-800-555-0199"),
        ("the code is oh four two seven", "the code is 0427"),
        ("one two three", "one two three"),  # too short to be dictation: left to ITN
        ("twenty twenty five", "twenty twenty five"),
        ("platforms one and three", "platforms one and three"),
    ],
)
def test_english_digit_dictation(text: str, expected: str) -> None:
    assert fmt.format(text, "en") == expected
