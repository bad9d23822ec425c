"""Facts a call must not lose (issue 10, item 5): the caller's name, CPFs, phone numbers and protocol numbers,
found with regular expressions in what was said (and in tool results) and kept for the whole call, so they
stay in the prompt after the turns that said them have left the window.

Regexes, not the LLM: the values must come back exactly (a summary that paraphrases a CPF is worse than
none), they cost nothing on the hot path, and the result is testable. Transcripts write numbers in many
ways ("529.982.247-25", "52998224725", "529 982 247 25"), so a run of digits is read whole, separators
dropped, then classified by its context ("CPF", "protocolo", "ticket") and its shape: 11 digits with a
valid CPF check is a CPF; 10 to 13 digits, or 8 to 9 with a hyphen, a phone number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Entities", "cpf_is_valid"]

KINDS = ("name", "cpf", "phone", "protocol")
LABELS = {"name": "caller's name", "cpf": "CPF", "phone": "phone", "protocol": "protocol"}

_UPPER = "A-ZÀ-ÖØ-Ý"
_WORD = rf"[{_UPPER}][\wÀ-ÖØ-öø-ÿ'’-]+"
# the words before a name in any case; the name itself capitalized (as the transcripts write names)
_NAME = re.compile(
    r"\b(?i:my\s+name\s+is|my\s+name's|call\s+me|meu\s+nome\s+(?:é|e)|me\s+chamo|pode\s+me\s+chamar\s+de)"
    rf"\s+({_WORD}(?:\s+(?:(?:d[aeo]s?|e)\s+)?{_WORD}){{0,3}})"
)
# a protocol/ticket number: letters and digits, inner - . / (spaces only before digits), one digit at least
_PROTOCOL = re.compile(
    r"\b(?:protocol(?:o)?|ticket|chamado|case|atendimento)"
    r"(?:\s+(?:number|n[úu]mero|no\.?|nº|n\.º|#|is|é|e|do|de))*\s*[:#]?\s*"
    r"((?=[A-Za-z0-9./\-\s]*\d)[A-Z0-9](?:[A-Z0-9./\-]|\s(?=\d))*[A-Z0-9])",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"(?<![\w.])\+?\(?\d(?:[\d().\-/]|\s(?=[\d(]))*\d(?![\w])")
_CPF_CONTEXT = re.compile(r"\bcpf\b", re.IGNORECASE)
_PHONE_CONTEXT = re.compile(r"\b(?:phone|telefone|celular|whatsapp|n[úu]mero|number)\b", re.IGNORECASE)
_CONTEXT_CHARS = 40  # how far before a number its label may be


def cpf_is_valid(digits: str) -> bool:
    """The CPF check digits (mod 11) of an 11-digit string; repeated digits are not a CPF."""
    if len(digits) != 11 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    for length in (9, 10):
        total = sum(int(d) * (length + 1 - i) for i, d in enumerate(digits[:length]))
        if (total * 10 % 11) % 10 != int(digits[length]):
            return False
    return True


@dataclass
class Entities:
    """The facts seen so far, newest last, ``per_kind`` of each kind."""

    per_kind: int = 3
    values: dict[str, list[str]] = field(default_factory=dict)

    def observe(self, text: str, *, caller: bool) -> None:
        """Take the facts out of ``text``: ``caller`` when the caller said it (only then is a name theirs)."""
        if caller:
            for match in _NAME.finditer(text):
                self._add("name", match.group(1).strip(" '’-"))
        protocol_spans = []
        for match in _PROTOCOL.finditer(text):
            self._add("protocol", match.group(1).strip())
            protocol_spans.append(match.span(1))
        for match in _DIGITS.finditer(text):
            if any(start <= match.start() < end for start, end in protocol_spans):
                continue  # already taken as a protocol number
            raw, digits = match.group(0).strip(), re.sub(r"\D", "", match.group(0))
            before = text[max(match.start() - _CONTEXT_CHARS, 0) : match.start()]
            labelled_cpf = bool(_CPF_CONTEXT.search(before))
            # an 11-digit number is a CPF when it says so, or checks as one and is not called a phone
            looks_cpf = len(digits) == 11 and not raw.startswith("+") and cpf_is_valid(digits)
            if (labelled_cpf and len(digits) == 11) or (looks_cpf and not _PHONE_CONTEXT.search(before)):
                self._add("cpf", f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}")
                continue
            if 10 <= len(digits) <= 13 or (8 <= len(digits) <= 9 and "-" in raw):
                self._add("phone", raw)

    def render(self) -> str:
        """One line for the system prompt, or "" when nothing is known."""
        known = [f"{LABELS[kind]}: {', '.join(self.values[kind])}" for kind in KINDS if self.values.get(kind)]
        if not known:
            return ""
        return "Facts from this call (exact; use them, do not ask for them again): " + "; ".join(known) + "."

    def _add(self, kind: str, value: str) -> None:
        if not value:
            return
        seen = self.values.setdefault(kind, [])
        if value in seen:
            seen.remove(value)  # said again: the newest
        seen.append(value)
        del seen[: -self.per_kind]
