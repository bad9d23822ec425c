"""Wrong-type fields over a real ``WS /v1/realtime`` in both dialects (issue 14, finding 6): each gets an
``error`` event and the socket stays open (they used to close it with 1000 and no word)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from tests.conftest import RunningServer
from tests.transports.test_bad_fields import ISSUE_CASES, error_param


async def next_event(ws: Any, kind: str, limit_s: float = 30) -> dict[str, Any]:
    async with asyncio.timeout(limit_s):
        while True:
            message = await ws.recv()
            if isinstance(message, bytes):
                continue
            event: dict[str, Any] = json.loads(message)
            if event["type"] == kind:
                return event


@pytest.mark.parametrize("dialect", ["theo", "openai"])
async def test_wrong_fields_get_error_events_and_the_socket_stays_open(
    server: RunningServer, dialect: str
) -> None:
    query = "?intent=transcription" if dialect == "openai" else ""
    url = server.url.replace("http://", "ws://") + "/v1/realtime" + query
    async with websockets.connect(url, max_size=None) as ws:
        await next_event(ws, "session.created")
        for which, message, param in ISSUE_CASES:
            if which != dialect:
                continue
            await ws.send(json.dumps(message))
            error = await next_event(ws, "error")
            assert error_param(error).endswith(param), (message, error)
        if dialect == "theo":
            await ws.send(json.dumps({"type": "session.configure", "partials": False}))
            await next_event(ws, "session.configured")
            await ws.send(json.dumps({"type": "session.close"}))
            closed = await next_event(ws, "session.closed")
            assert closed["reason"] == "client"
        else:
            update = {
                "type": "session.update",
                "session": {
                    "type": "transcription",
                    "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}},
                },
            }
            await ws.send(json.dumps(update))
            updated = await next_event(ws, "session.updated")
            assert updated["session"]["audio"]["input"]["format"]["rate"] == 16000
