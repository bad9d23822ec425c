"""What STT and TTS share: the HTTP session, headers, URLs and the mapping of Theo's errors to
livekit-agents' ``APIStatusError`` / ``APIConnectionError`` / ``APITimeoutError``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import aiohttp
from livekit.agents import APIConnectionError, APIStatusError, APITimeoutError, utils

# Theo's error codes on the WebSocket carry no HTTP status; these are the statuses the same condition
# gets on the REST API, so callers can treat both transports alike.
_CODE_STATUS = {
    "model_not_found": 404,
    "invalid_request": 400,
    "invalid_value": 400,
    "invalid_audio": 400,
    "invalid_voice": 400,
    "invalid_event": 400,
    "invalid_json": 400,
    "message_too_large": 400,
    "frame_too_large": 400,
    "audio_too_long": 413,
    "string_above_max_length": 400,
    "too_many_sessions": 503,
    "worker_unavailable": 503,
    "worker_restarted": 503,
    "internal_error": 500,
}


class HTTPSessionOwner:
    """The aiohttp session a plugin object uses: the caller's, the job's shared one, or its own."""

    def __init__(self, session: aiohttp.ClientSession | None) -> None:
        self._session = session
        self._owned: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        if self._session is not None:
            return self._session
        try:
            return utils.http_context.http_session()  # inside a livekit job (or http_context.open())
        except RuntimeError:
            pass
        # Outside a job (scripts, tests): a session of our own, closed by aclose().
        if self._owned is None or self._owned.closed:
            self._owned = aiohttp.ClientSession()
        return self._owned

    async def aclose(self) -> None:
        if self._owned is not None:
            await self._owned.close()
            self._owned = None


def retrieve_exception(task: asyncio.Task[Any]) -> None:
    """Done callback: a task torn down after failing must not log "exception was never retrieved"."""
    if not task.cancelled():
        task.exception()


def headers(api_key: str | None) -> dict[str, str]:
    # Theo does not check keys itself; a reverse proxy in front of it may.
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def ws_url(base_url: str, path: str, query: dict[str, Any]) -> str:
    if base_url.startswith("https://"):
        base = "wss://" + base_url[len("https://") :]
    elif base_url.startswith("http://"):
        base = "ws://" + base_url[len("http://") :]
    else:
        base = base_url
    params = {k: v for k, v in query.items() if v is not None}
    return f"{base}{path}" + (f"?{urlencode(params)}" if params else "")


async def status_error(resp: aiohttp.ClientResponse) -> APIStatusError:
    """An ``APIStatusError`` from a Theo error response (OpenAI-shaped ``{"error": {...}}``)."""
    text = await resp.text(errors="replace")
    body: Any = text
    message = text.strip() or resp.reason or f"HTTP {resp.status}"
    try:
        body = json.loads(text)
        message = body["error"]["message"]
    except (ValueError, KeyError, TypeError):
        pass
    return APIStatusError(message, status_code=resp.status, request_id=None, body=body)


def event_error(event: dict[str, Any]) -> APIStatusError:
    """An ``APIStatusError`` from a realtime ``error`` event."""
    code = str(event.get("code") or "")
    status = _CODE_STATUS.get(code, 500)
    return APIStatusError(
        f"{code}: {event.get('message', '')}" if code else str(event.get("message", "")),
        status_code=status,
        request_id=event.get("session_id"),
        body=event,
    )


@contextmanager
def map_errors(what: str) -> Iterator[None]:
    """Transport failures as livekit's API errors; ``APIStatusError`` raised inside passes through."""
    try:
        yield
    except (APIStatusError, APIConnectionError):
        raise
    except TimeoutError as exc:
        raise APITimeoutError(f"{what}: timed out") from exc
    except aiohttp.ClientResponseError as exc:
        raise APIStatusError(f"{what}: {exc.message}", status_code=exc.status, body=None) from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise APIConnectionError(f"{what}: {exc}") from exc
