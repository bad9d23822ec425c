"""Ephemeral client secrets (``ek_...``): minted with a real key, redeemed once for one realtime session.

A browser or phone gets one from its own backend and opens ``WS /v1/realtime`` or ``POST
/v1/realtime/calls`` with it; it never holds the real key. Unlike OpenAI's (reusable until they expire),
Theo's are single-use: a leaked secret that has been used is worth nothing. Only a digest of each secret is
kept, and the store is bounded: expired secrets are dropped as new ones are minted.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from theo_rtc.auth.keys import Principal

__all__ = ["PREFIX", "ClientSecretStore", "MintedSecret"]

PREFIX = "ek_"
MAX_OUTSTANDING = 10_000  # unexpired, unused secrets across all keys; more is a client minting in a loop


@dataclass(frozen=True, slots=True)
class MintedSecret:
    value: str
    expires_at: int  # seconds since the epoch, as OpenAI's expires_at


@dataclass(frozen=True, slots=True)
class _Outstanding:
    key_id: str
    deadline: float  # on the store's monotonic clock


class ClientSecretStore:
    def __init__(
        self, clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time
    ) -> None:
        self.clock = clock
        self.wall_clock = wall_clock
        self._outstanding: dict[bytes, _Outstanding] = {}

    def __len__(self) -> int:
        return len(self._outstanding)

    def mint(self, principal: Principal, ttl_s: int) -> MintedSecret:
        now = self.clock()
        self._outstanding = {d: s for d, s in self._outstanding.items() if s.deadline > now}
        if len(self._outstanding) >= MAX_OUTSTANDING:
            oldest = min(self._outstanding, key=lambda d: self._outstanding[d].deadline)
            del self._outstanding[oldest]
        value = PREFIX + secrets.token_urlsafe(32)
        self._outstanding[_digest(value)] = _Outstanding(principal.key_id, now + ttl_s)
        return MintedSecret(value, int(self.wall_clock() + ttl_s))

    def redeem(self, value: str) -> Principal | None:
        """The principal the secret was minted for, once; ``None`` when unknown, used or expired."""
        outstanding = self._outstanding.pop(_digest(value), None)
        if outstanding is None or outstanding.deadline <= self.clock():
            return None
        return Principal(outstanding.key_id, "client_secret")


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()
