"""Finding 4 (issue 14), per-key limits: requests per minute and realtime sessions open at once, each an
OpenAI-shaped 429 (``rate_limit_exceeded``). The per-minute window runs on the server's injected clock,
which the test moves: no sleeping, no race with the wall clock."""

from __future__ import annotations

import asyncio
import time

import httpx
import openai
import pytest
import websockets

from bench.webrtc_client import WebRTCClient
from tests.security.conftest import FILE_KEY, KEY, REQUESTS_PER_MINUTE, ClockedServer, bearer
from tests.security.helpers import open_realtime, ws_url
from theo_rtc.auth.errors import RateLimitError
from theo_rtc.auth.keys import key_id
from theo_rtc.auth.rate_limits import RequestRateLimiter, SessionSlots


def assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and error["type"] == "requests", error
    assert int(response.headers["retry-after"]) >= 1


def test_sliding_window_on_an_injected_clock() -> None:
    now = [0.0]
    limiter = RequestRateLimiter(3, clock=lambda: now[0])
    remaining = []
    for at in (0.0, 10.0, 20.0):
        now[0] = at
        remaining.append(limiter.hit("k"))
    assert remaining == [2, 1, 0]
    with pytest.raises(RateLimitError) as refused:
        limiter.hit("k")
    assert refused.value.retry_after_s == 40  # when the request at 0 s leaves the window
    assert limiter.hit("other") == 2  # per key
    now[0] = 59.9
    with pytest.raises(RateLimitError):
        limiter.hit("k")
    now[0] = 60.0  # the first request leaves the window, and only it
    assert limiter.hit("k") == 0
    with pytest.raises(RateLimitError):
        limiter.hit("k")
    assert RequestRateLimiter(0).hit("k") == -1  # 0: unlimited


def test_session_slots() -> None:
    slots = SessionSlots(2)
    first, second = slots.claim("k"), slots.claim("k")
    with pytest.raises(RateLimitError):
        slots.claim("k")
    first()
    first()  # idempotent: a double release frees one slot only
    third = slots.claim("k")
    with pytest.raises(RateLimitError):
        slots.claim("k")
    second(), third()
    assert slots.open_count("k") == 0


def test_requests_per_minute_on_a_real_server(clocked_server: ClockedServer) -> None:
    clock = clocked_server.clock
    clock.advance(61)
    with httpx.Client(base_url=clocked_server.url, timeout=30) as http:
        remaining = []
        for _ in range(REQUESTS_PER_MINUTE):
            response = http.get("/v1/models", headers=bearer(KEY))
            assert response.status_code == 200
            remaining.append(int(response.headers["x-ratelimit-remaining-requests"]))
        assert remaining == list(range(REQUESTS_PER_MINUTE - 1, -1, -1))
        assert_rate_limited(http.get("/v1/models", headers=bearer(KEY)))
        assert_rate_limited(http.post("/v1/realtime/client_secrets", headers=bearer(KEY)))
        sdk = openai.OpenAI(base_url=f"{clocked_server.url}/v1", api_key=KEY, max_retries=0)
        with pytest.raises(openai.RateLimitError):
            sdk.models.list()
        assert http.get("/v1/models", headers=bearer(FILE_KEY)).status_code == 200  # other keys unaffected
        assert http.get("/health").status_code == 200  # liveness is never limited
        assert http.get("/health", headers=bearer(KEY)).json()["workers"]
        clock.advance(59)
        assert_rate_limited(http.get("/v1/models", headers=bearer(KEY)))
        clock.advance(1)
        assert http.get("/v1/models", headers=bearer(KEY)).status_code == 200


async def test_a_websocket_over_the_budget_is_refused_before_accept(clocked_server: ClockedServer) -> None:
    clocked_server.clock.advance(61)
    async with httpx.AsyncClient(base_url=clocked_server.url) as http:
        for _ in range(REQUESTS_PER_MINUTE):
            assert (await http.get("/v1/models", headers=bearer(KEY))).status_code == 200
    refused = await open_realtime(clocked_server.url, headers=bearer(KEY))
    assert refused.status == 429 and refused.body["error"]["code"] == "rate_limit_exceeded", refused


async def wait_slots_free(server: ClockedServer, limit_s: float = 20) -> None:
    """Until the server has freed every slot of KEY (read from the server's own state, no fixed sleep)."""
    deadline = time.monotonic() + limit_s
    while server.security.sessions.open_count(key_id(KEY)):
        assert time.monotonic() < deadline, "the key's sessions were not freed"
        await asyncio.sleep(0.05)


async def test_sessions_per_key(clocked_server: ClockedServer) -> None:
    """THEO_API_KEY_MAX_SESSIONS=1: a second WebSocket or WebRTC call with the same key is a 429."""
    clocked_server.clock.advance(61)
    async with websockets.connect(
        ws_url(clocked_server.url, "intent=transcription"), additional_headers=bearer(KEY)
    ) as held:
        assert "session.created" in str(await held.recv())
        second = await open_realtime(clocked_server.url, headers=bearer(KEY))
        assert second.status == 429 and second.body["error"]["code"] == "rate_limit_exceeded", second
        assert "sessions open" in second.body["error"]["message"]
        call = WebRTCClient(clocked_server.url, headers=bearer(KEY))
        with pytest.raises(RuntimeError, match=r"429.*rate_limit_exceeded"):
            await call.connect()
        await call.close()
        other = await open_realtime(clocked_server.url, headers=bearer(FILE_KEY))
        assert other.status == 101
    await wait_slots_free(clocked_server)
    clocked_server.clock.advance(61)
    webrtc = WebRTCClient(clocked_server.url, headers=bearer(KEY))  # the slot is free again
    try:
        await webrtc.connect()
        assert (
            await open_realtime(clocked_server.url, headers=bearer(KEY))
        ).status == 429  # held by the call
    finally:
        await webrtc.close()
    await wait_slots_free(clocked_server)
    assert (await open_realtime(clocked_server.url, headers=bearer(KEY))).status == 101  # call ended: freed
