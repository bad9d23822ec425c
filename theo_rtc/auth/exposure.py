"""What ``theo serve`` warns about before it listens: a server reachable beyond this machine without keys."""

from __future__ import annotations

from theo_rtc.auth.hosts import is_loopback_host
from theo_rtc.auth.state import SecurityState
from theo_rtc.config import TheoSettings

__all__ = ["exposure_warnings"]


def exposure_warnings(settings: TheoSettings, security: SecurityState) -> list[str]:
    warnings = []
    if not is_loopback_host(settings.host) and not security.auth_enabled:
        warnings.append(
            f"--host {settings.host} is reachable from other machines and NO API KEY IS SET: anyone who can "
            "reach this port can transcribe, synthesize and open realtime sessions. Set THEO_API_KEYS "
            "(or THEO_API_KEYS_FILE), or listen on 127.0.0.1."
        )
    if settings.host in ("0.0.0.0", "::", "") and not settings.allowed_hosts:
        warnings.append(
            "clients may reach this server by IP address or as localhost; a DNS name they use must be "
            "listed in THEO_ALLOWED_HOSTS (other names are refused, against DNS rebinding)."
        )
    return warnings
