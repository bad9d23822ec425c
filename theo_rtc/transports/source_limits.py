"""Per-source admission: how many WebRTC offers and WebSocket opens one client address may make.

A moving window per address (``THEO_ADMISSION_OFFERS_PER_SOURCE``, ``THEO_ADMISSION_WEBSOCKETS_PER_SOURCE``,
in the ``limits`` notation: ``"60/minute"``, ``"5/second"``; empty = unlimited). The address is the one
uvicorn resolved (``X-Forwarded-For`` only from its trusted proxies). Past the limit: OpenAI's 429 shape.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse, storage, strategies
from starlette.requests import HTTPConnection

from theo_rtc.config import TheoSettings
from theo_rtc.errors import RateLimitedError

__all__ = ["SourceLimits"]


class SourceLimits:
    def __init__(self, settings: TheoSettings) -> None:
        self._limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
        self._items: dict[str, RateLimitItem | None] = {
            "offers": _parse(settings.admission_offers_per_source, "admission_offers_per_source"),
            "websockets": _parse(settings.admission_websockets_per_source, "admission_websockets_per_source"),
        }

    def admit(self, kind: str, connection: HTTPConnection) -> None:
        """Count one ``kind`` ("offers", "websockets") from the connection's source, or raise the 429."""
        item = self._items[kind]
        if item is None:
            return
        source = connection.client.host if connection.client is not None else "unknown"
        if self._limiter.hit(item, kind, source):
            return
        reset_at, _ = self._limiter.get_window_stats(item, kind, source)
        retry_s = max(1, math.ceil(reset_at - time.time()))
        what = "WebRTC offers" if kind == "offers" else "WebSocket connections"
        raise RateLimitedError(
            f"too many {what} from {source}: the limit is {item.amount} per {item.get_expiry()} s "
            f"(THEO_ADMISSION_{kind.upper()}_PER_SOURCE); retry in {retry_s} s"
        )


def _parse(text: str, field: str) -> RateLimitItem | None:
    if not text.strip():
        return None
    try:
        return parse(text)
    except ValueError as exc:
        raise ValueError(f"{field}: {text!r} is not a rate limit like '60/minute' ({exc})") from exc
