"""Where the LiveKit server is and how to sign for it, in LiveKit's own conventions.

``LIVEKIT_URL``, ``LIVEKIT_API_KEY`` and ``LIVEKIT_API_SECRET`` (the names every LiveKit SDK and the
``lk`` CLI read); unset, they default to the local dev server that ``theo livekit dev`` runs from
``livekit.yaml`` (ws://127.0.0.1:7880, ``devkey`` / ``secret``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from theo_rtc.errors import TheoError

DEV_URL = "ws://127.0.0.1:7880"
DEV_API_KEY = "devkey"
DEV_API_SECRET = "secret"


class LiveKitError(TheoError):
    """A LiveKit server that cannot be reached, refuses our credentials, or is missing."""

    status_code = 502
    code = "livekit_error"


@dataclass(frozen=True)
class LiveKitSettings:
    url: str = DEV_URL
    api_key: str = DEV_API_KEY
    api_secret: str = DEV_API_SECRET

    @classmethod
    def from_env(
        cls, url: str | None = None, api_key: str | None = None, api_secret: str | None = None
    ) -> LiveKitSettings:
        """Explicit values first, then ``LIVEKIT_*`` environment variables, then the dev defaults."""
        return cls(
            url=url or os.environ.get("LIVEKIT_URL") or DEV_URL,
            api_key=api_key or os.environ.get("LIVEKIT_API_KEY") or DEV_API_KEY,
            api_secret=api_secret or os.environ.get("LIVEKIT_API_SECRET") or DEV_API_SECRET,
        )

    @property
    def http_url(self) -> str:
        """The server API's base URL (``ws[s]://`` becomes ``http[s]://``)."""
        url = self.url.rstrip("/")
        if url.startswith("ws"):
            return "http" + url[2:]
        return url
