"""``Host`` and ``Origin`` rules against DNS rebinding and cross-site requests.

- ``Host`` must name this server: by default ``localhost``, the name ``theo serve --host`` binds, or any
  IP address literal (``127.0.0.1``, ``[::1]``, a LAN address), any port; ``THEO_ALLOWED_HOSTS`` replaces
  that (``*.example.com`` matches subdomains, ``*`` turns the check off). A page on ``evil.example`` that
  rebinds its name to 127.0.0.1 still sends ``Host: evil.example`` and is refused. An address literal
  cannot be rebound: a page whose origin is ``http://192.168.1.5:8000`` was served by Theo itself.
- ``Origin``, when a browser sends one, must be this server's own origin (the demo page) or listed in
  ``THEO_CORS_ORIGINS``; ``null`` (sandboxed frames, file: pages) is refused. No ``Origin`` at all is a
  non-browser client, which a browser cannot impersonate.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["HostAllowlist", "default_allowed_hosts", "is_loopback_host", "origin_allowed", "split_host"]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_WILDCARD_BINDS = ("", "0.0.0.0", "::")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def split_host(value: str) -> tuple[str, int | None] | None:
    """``Host`` header -> (lower-case name without brackets, port); ``None`` when malformed."""
    value = value.strip().lower()
    if not value:
        return None
    try:
        parsed = urlsplit(f"//{value}")
        name, port = parsed.hostname, parsed.port
    except ValueError:  # a bad port or unbalanced brackets
        return None
    if not name or parsed.path or parsed.query or parsed.username is not None:
        return None
    return name, port


def is_loopback_host(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def default_allowed_hosts(bind_host: str) -> list[str]:
    """Loopback names, plus the name ``theo serve --host`` binds when it is a specific one (with
    ``allow_addresses``, which lets every address literal through)."""
    names = list(LOOPBACK_NAMES)
    bind = bind_host.strip().strip("[]").lower()
    if bind not in _WILDCARD_BINDS and bind not in names:
        names.append(bind)
    return names


class HostAllowlist:
    def __init__(self, patterns: list[str], *, allow_addresses: bool = False) -> None:
        """``allow_addresses``: any IP address literal passes too (the default list's rule)."""
        self.patterns = [p.strip().lower().strip("[]") for p in patterns if p.strip()]
        self.allow_all = "*" in self.patterns
        self.allow_addresses = allow_addresses

    def allows(self, header: str) -> bool:
        if self.allow_all:
            return True
        parsed = split_host(header)
        if parsed is None:
            return False
        name = parsed[0]
        if self.allow_addresses and _is_address(name):
            return True
        for pattern in self.patterns:
            if pattern.startswith("*.") and name.endswith(pattern[1:]):
                return True
            if name == pattern:
                return True
        return False


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def origin_allowed(origin: str, host_header: str, allowed_origins: list[str]) -> bool:
    """``origin`` is this server's own (same host and port as ``Host``) or in the CORS allowlist."""
    origin = origin.strip()
    if origin == "null" or not origin:
        return False
    if "*" in allowed_origins or origin.rstrip("/") in allowed_origins:
        return True
    try:
        parsed = urlsplit(origin)
        port = parsed.port or _DEFAULT_PORTS.get(parsed.scheme)
    except ValueError:
        return False
    own = split_host(host_header)
    if own is None or parsed.hostname is None or parsed.scheme not in _DEFAULT_PORTS:
        return False
    own_port = own[1] or _DEFAULT_PORTS[parsed.scheme]  # behind a TLS proxy Host carries no port
    return parsed.hostname.lower() == own[0] and port == own_port
