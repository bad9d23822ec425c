"""Everything the security layer knows for one server, built from the settings once at startup."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from theo_rtc.auth.client_secrets import ClientSecretStore
from theo_rtc.auth.hosts import HostAllowlist, default_allowed_hosts
from theo_rtc.auth.keys import ApiKeys, Principal, load_keys_file
from theo_rtc.auth.rate_limits import RequestRateLimiter, SessionSlots
from theo_rtc.config import TheoSettings

__all__ = ["DEMO_PRINCIPAL", "SecurityState"]

DEMO_PRINCIPAL = Principal("demo", "demo")


@dataclass
class SecurityState:
    keys: ApiKeys
    client_secrets: ClientSecretStore
    requests: RequestRateLimiter
    sessions: SessionSlots
    hosts: HostAllowlist
    cors_origins: list[str]
    client_secret_ttl_s: int
    demo_password: str | None = None

    @classmethod
    def from_settings(cls, settings: TheoSettings) -> SecurityState:
        keys = list(settings.api_keys)
        if settings.api_keys_file is not None:
            keys += load_keys_file(Path(settings.api_keys_file))
        return cls(
            keys=ApiKeys(keys),
            client_secrets=ClientSecretStore(),
            requests=RequestRateLimiter(settings.api_key_requests_per_minute),
            sessions=SessionSlots(settings.api_key_max_sessions),
            hosts=(
                HostAllowlist(settings.allowed_hosts)
                if settings.allowed_hosts
                else HostAllowlist(default_allowed_hosts(settings.host), allow_addresses=True)
            ),
            cors_origins=[o.strip().rstrip("/") for o in settings.cors_origins if o.strip()],
            client_secret_ttl_s=settings.client_secret_ttl_s,
            demo_password=settings.demo_password or None,
        )

    @property
    def auth_enabled(self) -> bool:
        return self.keys.enabled

    def set_clock(self, clock: Callable[[], float], wall_clock: Callable[[], float] = time.time) -> None:
        """One clock for secret expiry and the rate window (tests drive it instead of sleeping)."""
        self.client_secrets.clock = clock
        self.client_secrets.wall_clock = wall_clock
        self.requests.clock = clock

    def demo_password_matches(self, presented: str) -> bool:
        if not self.demo_password:
            return False
        digest = hashlib.sha256(presented.encode()).digest()
        return hmac.compare_digest(digest, hashlib.sha256(self.demo_password.encode()).digest())
