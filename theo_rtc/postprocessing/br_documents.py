"""Brazilian identifiers: check digits and written forms of CPF, CNPJ, CEP and phone numbers."""

from __future__ import annotations

# Area codes (DDD) in use; a 10/11-digit run is read as a phone number only with one of these.
VALID_DDD = frozenset(
    [11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 24, 27, 28, 31, 32, 33, 34, 35, 37, 38, 41, 42, 43,
     44, 45, 46, 47, 48, 49, 51, 53, 54, 55, 61, 62, 63, 64, 65, 66, 67, 68, 69, 71, 73, 74, 75, 77,
     79, 81, 82, 83, 84, 85, 86, 87, 88, 89, 91, 92, 93, 94, 95, 96, 97, 98, 99]
)  # fmt: skip


def _mod11_digit(digits: str, weights: list[int]) -> int:
    rest = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return 0 if rest < 2 else 11 - rest


def cpf_valid(digits: str) -> bool:
    if len(digits) != 11 or not digits.isdigit() or digits == digits[0] * 11:
        return False
    first = _mod11_digit(digits[:9], list(range(10, 1, -1)))
    second = _mod11_digit(digits[:10], list(range(11, 1, -1)))
    return digits[9:] == f"{first}{second}"


def cnpj_valid(digits: str) -> bool:
    if len(digits) != 14 or not digits.isdigit() or digits == digits[0] * 14:
        return False
    w1 = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    first = _mod11_digit(digits[:12], w1)
    second = _mod11_digit(digits[:13], [6, *w1])
    return digits[12:] == f"{first}{second}"


def format_cpf(digits: str) -> str:
    return f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}"


def format_cnpj(digits: str) -> str:
    return f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}/{digits[8:12]}-{digits[12:]}"


def format_cep(digits: str) -> str:
    return f"{digits[:5]}-{digits[5:]}"


def _local(number: str) -> str:
    return f"{number[:-4]}-{number[-4:]}"


def format_phone(digits: str, *, keyword: bool = False) -> str | None:
    """Written form of a Brazilian phone number, or None if ``digits`` is not shaped like one.

    Without a phone keyword nearby only complete numbers (area code + number) qualify; with one, a bare
    8/9-digit local number does too.
    """
    n = len(digits)
    if n == 11 and digits[0] == "0" and digits[1:4] in ("800", "300", "500", "900"):
        return f"{digits[:4]} {digits[4:7]} {digits[7:]}"
    if n in (12, 13) and digits.startswith("55"):
        rest = format_phone(digits[2:])
        return f"+55 {rest}" if rest else None
    if n in (10, 11) and int(digits[:2]) in VALID_DDD:
        local = digits[2:]
        if (n == 11 and local[0] == "9") or (n == 10 and local[0] in "2345"):
            return f"({digits[:2]}) {_local(local)}"
    if keyword and ((n == 9 and digits[0] == "9") or n == 8):
        return _local(digits)
    return None
