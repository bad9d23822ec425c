"""Entity formatting: documents, phone numbers, money and reference numbers in their written form.

Runs before ITN on purpose: NeMo reads a dictated CPF as a phone number and splits CNPJs, so the spans
recognised here leave as digits and punctuation, which NeMo passes through untouched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from theo_rtc.postprocessing import br_documents as br
from theo_rtc.postprocessing.numbers import LEXICONS, NumberLexicon, SpokenNumber, parse_number
from theo_rtc.postprocessing.tokens import Token, tokenize

Domain = Literal["banking", "telecom", "generic"]

_KEYWORDS: dict[str, dict[str, str]] = {
    "pt": {
        "cpf": "cpf", "cnpj": "cnpj", "cep": "cep",
        **dict.fromkeys(
            ["telefone", "celular", "fone", "whatsapp", "zap", "ligar", "ligue", "liga", "telefones",
             "contato", "ramal"], "phone"),
        **dict.fromkeys(
            ["conta", "agência", "agencia", "protocolo", "pedido", "matrícula", "matricula", "código",
             "codigo", "cartão", "cartao", "boleto", "fatura", "contrato", "chamado", "ticket", "registro",
             "processo", "rastreio", "rastreamento", "cliente", "instalação", "instalacao"], "reference"),
    },
    "en": dict.fromkeys(
        ["account", "order", "reference", "confirmation", "ticket", "case", "tracking", "invoice", "policy",
         "member", "customer", "routing", "claim"], "reference"),
}  # fmt: skip
_KEYWORD_LOOKBACK = 6

# Words spoken between digit groups; the value is what a reference number keeps of them.
_SEPARATORS: dict[str, dict[str, str]] = {
    "pt": {"ponto": "", "traço": "-", "traco": "-", "tracinho": "-", "hífen": "-", "hifen": "-",
           "barra": "/", "dígito": "-", "digito": "-"},
    "en": {"dash": "-", "hyphen": "-", "slash": "/"},
}  # fmt: skip

_CURRENCIES: dict[str, dict[str, str]] = {
    "pt": {"reais": "R$", "real": "R$", "dólares": "US$", "dólar": "US$", "dolares": "US$", "dolar": "US$",
           "euros": "€", "euro": "€"},
    "en": {"dollars": "$", "dollar": "$", "bucks": "$", "euros": "€", "euro": "€", "pounds": "£",
           "pound": "£"},
}  # fmt: skip
_CENTS: dict[str, frozenset[str]] = {
    "pt": frozenset({"centavos", "centavo"}),
    "en": frozenset({"cents", "cent"}),
}
_CENTS_SYMBOL = {"pt": "R$", "en": "$"}

_DIGIT_TOKEN = re.compile(r"^(?=.*\d)[\d.\-/]+$")
_AMOUNT_TOKEN = {
    # 10 | 10.000 | 10,50 | 10.000,50   (pt)      10 | 10,000 | 10.50 | 10,000.50   (en)
    "pt": re.compile(r"^(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d{1,2}))?$"),
    "en": re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?$"),
}


@dataclass(frozen=True, slots=True)
class _Match:
    start: int
    end: int
    text: str


def format_money(language: str, symbol: str, units: int, cents: int | None) -> str:
    if language == "pt":
        whole = f"{units:,}".replace(",", ".")
        return f"{symbol} {whole},{cents or 0:02d}"
    whole = f"{units:,}"
    return f"{symbol}{whole}" if not cents else f"{symbol}{whole}.{cents:02d}"


class EntityFormatter:
    """Rewrites spoken entities of one language; stateless and thread-safe."""

    def format(self, text: str, language: str, domain: Domain = "generic") -> str:
        lex = LEXICONS.get(language)
        if lex is None or not text.strip():
            return text
        tokens = tokenize(text)
        words = [t.norm for t in tokens]
        pieces: list[str] = []
        changed = False
        i = 0
        while i < len(tokens):
            match = self._currency(tokens, words, i, language, lex) or self._digit_run(
                tokens, words, i, language, domain, lex
            )
            if match is None:
                pieces.append(tokens[i].raw)
                i += 1
                continue
            lead, trail = tokens[match.start].lead, tokens[match.end - 1].trail
            written = match.text
            # "(11) 98765-4321": the parenthesis was part of the written entity, not text around it
            lead = "" if lead and written.startswith(lead) else lead
            trail = "" if trail and written.endswith(trail) else trail
            written = lead + written + trail
            original = " ".join(t.raw for t in tokens[match.start : match.end])
            changed = changed or written != original
            pieces.append(written)
            i = match.end
        return " ".join(pieces) if changed else text

    # --- money ---------------------------------------------------------------------------------------------
    def _amount(
        self, tokens: Sequence[Token], words: Sequence[str], i: int, language: str, lex: NumberLexicon
    ) -> tuple[int, int | None, int] | None:
        """(units, cents, end) of a spoken or digit amount at ``i``."""
        found = _AMOUNT_TOKEN[language].match(tokens[i].core)
        if found:
            units = int(re.sub(r"\D", "", found.group(1)))
            cents = int(found.group(2).ljust(2, "0")) if found.group(2) else None
            return units, cents, i + 1
        number = parse_number(words, i, lex, limit=_punctuation_limit(tokens, i))
        if number is None:
            return None
        return number.value, None, number.end

    def _currency(
        self, tokens: Sequence[Token], words: Sequence[str], i: int, language: str, lex: NumberLexicon
    ) -> _Match | None:
        amount = self._amount(tokens, words, i, language, lex)
        if amount is None:
            return None
        units, cents, j = amount
        n = len(tokens)
        if j >= n or tokens[j - 1].trail:
            return None
        currencies = _CURRENCIES[language]
        # "um milhão de reais"
        if (
            words[j] == "de"
            and language == "pt"
            and j + 1 < n
            and words[j + 1] in currencies
            and units >= 10**6
        ):
            j += 1
        if words[j] in _CENTS[language] and cents is None and units < 100:
            return _Match(i, j + 1, format_money(language, _CENTS_SYMBOL[language], 0, units))
        symbol = currencies.get(words[j])
        if symbol is None:
            return None
        end = j + 1
        # "... reais e cinquenta centavos" / "... reais e cinquenta" at the end of the clause
        if cents is None and end + 1 < n and not tokens[j].trail and words[end] in lex.connectors:
            small = parse_number(words, end + 1, lex, limit=_punctuation_limit(tokens, end + 1))
            if small is not None and small.value < 100:
                after = small.end
                if after < n and words[after] in _CENTS[language]:
                    cents, end = small.value, after + 1
                elif language == "pt" and (after >= n or tokens[after - 1].trail):
                    cents, end = small.value, after
        return _Match(i, end, format_money(language, symbol, units, cents))

    # --- digit runs: documents, phones, reference numbers -------------------------------------------------
    def _digit_run(
        self,
        tokens: Sequence[Token],
        words: Sequence[str],
        i: int,
        language: str,
        domain: Domain,
        lex: NumberLexicon,
    ) -> _Match | None:
        separators = _SEPARATORS[language]
        items: list[tuple[str, SpokenNumber | None]] = []  # (digits, spoken number or None for digit tokens)
        rendered: list[str] = []  # digits and spoken separators, for reference numbers
        k = i
        end = i
        n = len(tokens)
        while k < n:
            word = words[k]
            if items and word in separators and k + 1 < n and not tokens[k - 1].ends_clause:
                k += 1
                rendered.append(separators[word])
                continue
            if _DIGIT_TOKEN.match(tokens[k].core):
                items.append((re.sub(r"\D", "", tokens[k].core), None))
                rendered.append(tokens[k].core)
                k += 1
            else:
                dictation = bool(items) or _starts_dictation(words, k, lex)
                number = parse_number(words, k, lex, dictation=dictation, limit=_punctuation_limit(tokens, k))
                if number is None or number.value >= 1000:
                    break
                items.append((number.digits, number))
                rendered.append(number.digits)
                k = number.end
            end = k
            if tokens[k - 1].ends_clause:
                break
        if not items:
            return None
        # Drop separators spoken after the last digits.
        while rendered and not any(c.isdigit() for c in rendered[-1]):
            rendered.pop()
        digits = "".join(d for d, _ in items)
        keyword = _keyword(words, i, language)
        text = self._classify(digits, "".join(rendered), items, keyword, language, domain)
        return None if text is None else _Match(i, end, text)

    def _classify(
        self,
        digits: str,
        rendered: str,
        items: Sequence[tuple[str, SpokenNumber | None]],
        keyword: str | None,
        language: str,
        domain: Domain,
    ) -> str | None:
        spoken = any(number is not None for _, number in items)
        single_token = len(items) == 1 and not spoken
        dictated = len(items) >= 2 or single_token
        if not dictated:
            return None  # one spoken cardinal ("dois mil e vinte e cinco") is ITN's job
        if language == "en":
            if not spoken:
                return None
            if keyword == "reference":
                return rendered
            # Digit-by-digit dictation (phone numbers, codes): cheaper and as good as NeMo's grammar.
            return _us_phone(digits) if len(items) >= 4 and _dictated_digits(items) >= 3 else None

        written: str | None = None
        if keyword == "cpf":
            written = br.format_cpf(digits) if br.cpf_valid(digits) else None
        elif keyword == "cnpj":
            written = br.format_cnpj(digits) if br.cnpj_valid(digits) else None
        elif keyword == "cep":
            written = br.format_cep(digits) if len(digits) == 8 else None
        elif keyword == "phone":
            written = br.format_phone(digits, keyword=True)
        elif keyword == "reference":
            written = rendered
        if written is None and keyword in (None, "phone", "reference") and br.cnpj_valid(digits):
            written = br.format_cnpj(digits)
        if written is None and keyword is None:
            # Without a keyword the domain decides which reading of an 11-digit run wins.
            readers = (_phone, _cpf) if domain == "telecom" else (_cpf, _phone)
            for reader in readers:
                written = reader(digits)
                if written:
                    break
        if written is not None:
            return written
        if single_token:
            return None  # already written digits that match nothing: leave them exactly as they are
        # Dictated digits that are no valid entity (a CPF with wrong check digits) stay a plain digit string,
        # so that ITN does not turn them into a phone number.
        return digits if len(digits) >= 6 or keyword else None


def _dictated_digits(items: Sequence[tuple[str, SpokenNumber | None]]) -> int:
    return sum(number is not None and number.dictated_digit for _, number in items)


def _us_phone(digits: str) -> str:
    """555-123-4567, 1-800-555-0199, 555-0199; other lengths stay a plain digit string."""
    if len(digits) == 11 and digits[0] == "1":
        return f"1-{digits[1:4]}-{digits[4:7]}-{digits[7:]}"
    if len(digits) == 10:
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    if len(digits) == 7:
        return f"{digits[:3]}-{digits[3:]}"
    return digits


def _cpf(digits: str) -> str | None:
    return br.format_cpf(digits) if br.cpf_valid(digits) else None


def _phone(digits: str) -> str | None:
    return br.format_phone(digits)


def _starts_dictation(words: Sequence[str], k: int, lex: NumberLexicon) -> bool:
    """A dictation-only digit ("meia", "oh") counts at the start of a run only if digits follow it."""
    return k + 1 < len(words) and (words[k + 1] in lex.units or words[k + 1] in lex.dictation_digits)


def _punctuation_limit(tokens: Sequence[Token], i: int) -> int:
    """Index where a spoken number starting at ``i`` must stop: after a token with trailing punctuation,
    or before one with leading punctuation."""
    for k in range(i, len(tokens)):
        if k > i and tokens[k].lead:
            return k
        if tokens[k].trail:
            return k + 1
    return len(tokens)


def _keyword(words: Sequence[str], i: int, language: str) -> str | None:
    table = _KEYWORDS[language]
    for word in reversed(words[max(0, i - _KEYWORD_LOOKBACK) : i]):
        kind = table.get(word)
        if kind is not None:
            return kind
    return None
