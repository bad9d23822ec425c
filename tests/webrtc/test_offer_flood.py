"""Issue 14, finding 5: WebRTC offers that never connect must not lock streaming out; per-source limits.

Before: every answered offer took one of the 64 ``max_sessions`` slots until its connect timeout, so 64
offers whose ICE never completes locked every WebSocket session out (``too_many_sessions``) for ~15 s.
Now unconnected offers have their own budget (``THEO_WEBRTC_MAX_PENDING_OFFERS``, 8): the flood gets 8
answers and 503 ``too_many_pending_offers`` for the rest, and a WebSocket session starts and gets its final.
The connect timeout is set far beyond the test here, so the offers stay pending throughout (no race with
it, old code or new). Offers and WebSocket opens per source are limited too: past the limit, a 429.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from bench.evalsets import EVAL_ROOT
from bench.webrtc_client import WebRTCClient
from tests.conftest import RunningServer, start_server
from tests.realtime.helpers import stream_file

FLOOD = 64
OFFERS_PER_HOUR = FLOOD + 6
WEBSOCKETS_PER_HOUR = 4
ENV = {
    "THEO_WEBRTC_ICE_HOSTS": '["127.0.0.1"]',
    "THEO_WEBRTC_CONNECT_TIMEOUT_S": "600",  # the flood stays unconnected for the whole test
    "THEO_ADMISSION_OFFERS_PER_SOURCE": f"{OFFERS_PER_HOUR}/hour",
    "THEO_ADMISSION_WEBSOCKETS_PER_SOURCE": f"{WEBSOCKETS_PER_HOUR}/hour",
}


@pytest.fixture(scope="module")
def flood_server(theo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        theo_home, tmp_path_factory.mktemp("flood") / "server.log", preload=("whisper-tiny.en",), env=ENV
    )
    yield running
    running.stop()


async def never_connecting_offer() -> tuple[WebRTCClient, str]:
    """A real aiortc offer whose peer never takes the answer, so ICE never completes."""
    client = WebRTCClient("http://unused")
    offer = await client.pc.createOffer()
    await client.pc.setLocalDescription(offer)
    return client, client.pc.localDescription.sdp


async def test_offer_flood_does_not_block_a_websocket_session(flood_server: RunningServer) -> None:
    client, sdp = await never_connecting_offer()
    try:
        async with httpx.AsyncClient(base_url=flood_server.url, timeout=120) as http:
            flood = await asyncio.gather(
                *(http.post("/v1/realtime/calls", content=sdp) for _ in range(FLOOD))
            )
            # A streaming session starts meanwhile and gets its final (before: too_many_sessions, 1013).
            ws_url = flood_server.url.replace("http://", "ws://")
            transcript = await stream_file(ws_url, EVAL_ROOT / "librivox_pocketsphinx_en" / "goforward.wav")
            assert not transcript.of("error"), transcript.of("error")
            assert "forward" in " ".join(transcript.finals).lower(), transcript.finals
            assert transcript.of("session.closed")

            codes = Counter(r.status_code for r in flood)
            refused = {r.json()["error"]["code"] for r in flood if r.status_code != 201}
            assert codes == {201: 8, 503: FLOOD - 8}, codes
            assert refused == {"too_many_pending_offers"}, refused
            assert (await http.get("/health")).json()["sessions"] == 8  # still pending, not timed out

            # Per source: the offers past the limit get OpenAI's 429 (before, 503s: the pending budget).
            responses = [await http.post("/v1/realtime/calls", content=sdp) for _ in range(OFFERS_PER_HOUR)]
            limited = [r for r in responses if r.status_code == 429]
            assert limited and all(r.status_code in (429, 503) for r in responses), [
                r.status_code for r in responses
            ]
            error = limited[0].json()["error"]
            assert error["code"] == "rate_limit_exceeded" and error["type"] == "requests", error
            assert "offers" in error["message"]
    finally:
        await client.close()


async def test_websocket_opens_per_source_are_limited(flood_server: RunningServer) -> None:
    ws_url = flood_server.url.replace("http://", "ws://")
    statuses: list[Any] = []
    body: dict[str, Any] = {}
    for _ in range(WEBSOCKETS_PER_HOUR + 1):  # the first test used one already
        try:
            async with websockets.connect(f"{ws_url}/v1/realtime") as ws:
                await ws.send(json.dumps({"type": "session.close"}))
                async for _message in ws:
                    pass
            statuses.append("open")
        except InvalidStatus as exc:
            statuses.append(exc.response.status_code)
            body = json.loads(exc.response.body or b"{}")
    assert statuses.count(429) >= 1 and set(statuses) <= {"open", 429}, statuses
    assert body["error"]["code"] == "rate_limit_exceeded", body
    assert "WebSocket" in body["error"]["message"]
