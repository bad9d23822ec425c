"""Per-key limits: requests in a sliding 60 s window, and realtime sessions open at once.

The window's clock is injectable (``clock``), so tests drive time instead of sleeping.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from theo_rtc.auth.errors import RateLimitError

__all__ = ["RequestRateLimiter", "SessionSlots"]

WINDOW_S = 60.0


class RequestRateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        """``per_minute`` 0: unlimited."""
        self.per_minute = per_minute
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key_id: str) -> int:
        """Count one request; the requests left in the window, or :class:`RateLimitError`."""
        if self.per_minute <= 0:
            return -1
        now = self.clock()
        hits = self._hits.setdefault(key_id, deque())
        while hits and hits[0] <= now - WINDOW_S:
            hits.popleft()
        if len(hits) >= self.per_minute:
            retry_after = max(1, math.ceil(hits[0] + WINDOW_S - now))
            raise RateLimitError(
                f"rate limit reached for {key_id} on requests per min (RPM): limit {self.per_minute}, "
                f"used {len(hits)}; try again in {retry_after}s (THEO_API_KEY_REQUESTS_PER_MINUTE)",
                retry_after_s=retry_after,
            )
        hits.append(now)
        return self.per_minute - len(hits)

    def reset_after_s(self, key_id: str) -> int:
        """Seconds until the oldest request in the window leaves it."""
        hits = self._hits.get(key_id)
        return max(0, math.ceil(hits[0] + WINDOW_S - self.clock())) if hits else 0


class SessionSlots:
    """Realtime sessions (WebSocket or WebRTC) open at once per key; ``limit`` 0: unlimited."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}

    def open_count(self, key_id: str) -> int:
        return self._open.get(key_id, 0)

    def claim(self, key_id: str) -> Callable[[], None]:
        """Take a slot; returns its release (idempotent), or raises :class:`RateLimitError`."""
        if self.limit > 0 and self.open_count(key_id) >= self.limit:
            raise RateLimitError(
                f"{key_id} already has {self.limit} realtime sessions open, its limit "
                "(THEO_API_KEY_MAX_SESSIONS); close one and retry",
                retry_after_s=1,
            )
        self._open[key_id] = self.open_count(key_id) + 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            left = self.open_count(key_id) - 1
            if left > 0:
                self._open[key_id] = left
            else:
                self._open.pop(key_id, None)

        return release
