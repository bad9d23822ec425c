"""Authentication and browser security: API keys, ephemeral client secrets, per-key limits, CORS,
``Origin`` and ``Host`` checks (README, "Authentication and browser security")."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from theo_rtc.auth.access import claim_session_slot, has_operator_access
from theo_rtc.auth.auth_middleware import AuthMiddleware, principal_of
from theo_rtc.auth.browser_guard import HostCheckMiddleware, OriginCheckMiddleware
from theo_rtc.auth.routes import router
from theo_rtc.auth.state import SecurityState
from theo_rtc.config import TheoSettings

__all__ = ["SecurityState", "claim_session_slot", "has_operator_access", "install_security", "principal_of"]

# Headers a browser page may read from a cross-origin answer: the WebRTC call's id, ids and rate limits.
_EXPOSED = [
    "location",
    "x-request-id",
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
]


def install_security(app: FastAPI, settings: TheoSettings, *, demo_dir: Path | None) -> SecurityState:
    """Add the middlewares (outermost first: Host, CORS, Origin, auth) and the client-secret routes.

    Call it after the middlewares that must run inside auth (body limits) and before the outer ones
    (request ids), as ``add_middleware`` wraps what is there.
    """
    security = SecurityState.from_settings(settings)
    app.state.security = security
    demo_paths = frozenset(_demo_paths(demo_dir))
    app.add_middleware(AuthMiddleware, security=security, demo_paths=demo_paths)
    app.add_middleware(OriginCheckMiddleware, allowed_origins=security.cors_origins)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=security.cors_origins,
        allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=_EXPOSED,
    )
    app.add_middleware(HostCheckMiddleware, hosts=security.hosts)
    app.include_router(router)
    return security


def _demo_paths(demo_dir: Path | None) -> list[str]:
    """The web demo's own files (public pages, no data), and the LiveKit client it loads."""
    if demo_dir is None or not demo_dir.is_dir():
        return []
    files = [f"/{p.relative_to(demo_dir).as_posix()}" for p in demo_dir.rglob("*") if p.is_file()]
    return ["/", *files, "/vendor/livekit-client.umd.js"]
