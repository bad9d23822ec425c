"""Small clients for the security tests: a WebSocket handshake that reports how it was refused."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from dataclasses import dataclass
from typing import Any

import websockets
from websockets.exceptions import InvalidStatus


def ws_url(http_url: str, query: str = "") -> str:
    return http_url.replace("http://", "ws://") + "/v1/realtime" + (f"?{query}" if query else "")


@dataclass
class Handshake:
    status: int  # 101 when accepted
    body: dict[str, Any]  # the refusal's JSON, or the first event when accepted
    subprotocol: str | None = None


async def open_realtime(
    http_url: str,
    query: str = "intent=transcription",
    *,
    headers: dict[str, str] | None = None,
    subprotocols: list[str] | None = None,
    origin: str | None = None,
) -> Handshake:
    """Open ``WS /v1/realtime``; on success read the first event and close."""
    try:
        async with websockets.connect(
            ws_url(http_url, query),
            additional_headers=headers or {},
            subprotocols=subprotocols,  # type: ignore[arg-type]
            origin=origin,  # type: ignore[arg-type]
            open_timeout=30,
        ) as ws:
            first = json.loads(await ws.recv(decode=True))
            return Handshake(101, first, ws.subprotocol)
    except InvalidStatus as exc:
        body = exc.response.body or b"{}"
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = {"raw": body.decode(errors="replace")}
        return Handshake(exc.response.status_code, parsed)


def assert_invalid_api_key(status: int, body: dict[str, Any]) -> None:
    assert status == 401, (status, body)
    assert body["error"]["type"] == "invalid_request_error", body
    assert body["error"]["code"] == "invalid_api_key", body
    assert body["error"]["message"], body


async def raw_handshake(http_url: str, host: str, path: str = "/v1/realtime?intent=transcription") -> int:
    """A WebSocket upgrade with exactly the ``Host`` given (clients add their own); its HTTP status."""
    address = http_url.removeprefix("http://")
    name, port = address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(name, int(port))
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 30)
    writer.close()
    return int(status_line.split()[1])
