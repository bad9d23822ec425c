"""API keys from ``THEO_API_KEYS`` and ``THEO_API_KEYS_FILE``, matched in constant time, never logged.

A key is only ever referred to by its id (``key_`` + the first 12 hex digits of its SHA-256), in logs and
in the per-key limits, so that the key itself is never written anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ApiKeys", "Principal", "key_id", "load_keys_file"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request is from: a key's id, and how it proved it."""

    key_id: str
    via: str  # "api_key" | "client_secret" | "demo"

    @property
    def is_operator(self) -> bool:
        """A real API key: the only credential that sees health detail and may call REST routes."""
        return self.via == "api_key"


def key_id(key: str) -> str:
    return "key_" + hashlib.sha256(key.encode()).hexdigest()[:12]


def load_keys_file(path: Path) -> list[str]:
    """One key a line; blank lines and ``#`` comments are ignored. An unreadable or empty file is an error:
    the operator asked for keys, and serving without any would silently turn authentication off."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ValueError(f"THEO_API_KEYS_FILE {path}: {exc.strerror or exc}") from exc
    keys = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    if not any(keys):
        raise ValueError(f"THEO_API_KEYS_FILE {path} holds no key")
    return [key for key in keys if key]


class ApiKeys:
    def __init__(self, keys: list[str]) -> None:
        cleaned = sorted({k.strip() for k in keys if k.strip()})
        # Digests of equal length: compare_digest then takes the same time whatever the presented value.
        self._digests = [(hashlib.sha256(k.encode()).digest(), key_id(k)) for k in cleaned]

    def __len__(self) -> int:
        return len(self._digests)

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def match(self, presented: str) -> Principal | None:
        """The principal ``presented`` is the key of; every key is compared, with no early exit."""
        digest = hashlib.sha256(presented.encode()).digest()
        found: str | None = None
        for known, kid in self._digests:
            if hmac.compare_digest(digest, known):
                found = kid
        return Principal(found, "api_key") if found else None
