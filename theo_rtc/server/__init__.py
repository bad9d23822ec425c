"""HTTP/WebSocket server (FastAPI)."""

from theo_rtc.server.app import create_app

__all__ = ["create_app"]
