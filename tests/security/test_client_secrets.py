"""Finding 4 (issue 14), ephemeral client secrets: ``POST /v1/realtime/client_secrets`` in OpenAI's shape
(parsed by the official SDK), each secret good for one realtime session (WebSocket or WebRTC), refused on
REST, refused when reused or expired; the web demo's ``/demo/session-token`` behind the demo password."""

from __future__ import annotations

import base64
import time

import httpx
import openai
import pytest

from bench.webrtc_client import WebRTCClient
from tests.conftest import RunningServer
from tests.security.conftest import DEMO_PASSWORD, KEY, ClockedServer, bearer
from tests.security.helpers import assert_invalid_api_key, open_realtime


def mint(server_url: str, **body: object) -> dict[str, object]:
    response = httpx.post(f"{server_url}/v1/realtime/client_secrets", headers=bearer(KEY), json=body)
    assert response.status_code == 200, response.text
    minted: dict[str, object] = response.json()
    return minted


async def test_the_official_sdk_mints_a_secret(auth_server: RunningServer) -> None:
    client = openai.AsyncOpenAI(base_url=f"{auth_server.url}/v1", api_key=KEY, max_retries=0)
    before = time.time()
    secret = await client.realtime.client_secrets.create(
        expires_after={"anchor": "created_at", "seconds": 120},
        session={
            "type": "transcription",
            "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000}}},
        },
    )
    assert secret.value.startswith("ek_") and len(secret.value) > 40
    assert before + 119 <= secret.expires_at <= time.time() + 121
    assert secret.session.type == "transcription" and secret.session.id.startswith("sess_")
    default = await client.realtime.client_secrets.create()
    assert default.expires_at <= time.time() + 61  # 60 s unless asked
    with pytest.raises(openai.BadRequestError):  # OpenAI's bounds: 10 s to 2 h
        await client.realtime.client_secrets.create(expires_after={"anchor": "created_at", "seconds": 5})
    conversation = await client.realtime.client_secrets.create(
        session={"type": "realtime", "model": "gpt-realtime", "instructions": "Be brief."}
    )
    assert conversation.session.type == "realtime" and conversation.session.object == "realtime.session"
    assert conversation.session.instructions == "Be brief."  # type: ignore[union-attr]
    with pytest.raises(openai.BadRequestError) as refused:
        await client.realtime.client_secrets.create(session={"type": "other"})  # type: ignore[typeddict-item]
    assert refused.value.param == "session.type"


def test_minting_needs_a_real_key(auth_server: RunningServer) -> None:
    secret = str(mint(auth_server.url)["value"])
    for headers in ({}, bearer("sk-wrong"), bearer(secret)):  # a secret cannot mint more secrets
        response = httpx.post(f"{auth_server.url}/v1/realtime/client_secrets", headers=headers)
        assert_invalid_api_key(response.status_code, response.json())


async def test_a_secret_opens_one_websocket_session_once(auth_server: RunningServer) -> None:
    secret = str(mint(auth_server.url)["value"])
    browser_form = ["realtime", f"openai-insecure-api-key.{secret}"]
    first = await open_realtime(auth_server.url, subprotocols=browser_form)
    assert first.status == 101 and first.body["type"] == "session.created", first
    reused = await open_realtime(auth_server.url, subprotocols=browser_form)
    assert_invalid_api_key(reused.status, reused.body)
    assert "already used" in reused.body["error"]["message"]
    by_header = str(mint(auth_server.url)["value"])
    assert (await open_realtime(auth_server.url, headers=bearer(by_header))).status == 101


def test_a_secret_is_never_accepted_on_rest(auth_server: RunningServer) -> None:
    secret = str(mint(auth_server.url)["value"])
    for method, path in [("GET", "/v1/models"), ("POST", "/v1/audio/speech"), ("GET", "/api/ps")]:
        response = httpx.request(method, f"{auth_server.url}{path}", headers=bearer(secret))
        assert_invalid_api_key(response.status_code, response.json())
        assert "realtime sessions only" in response.json()["error"]["message"]
    assert httpx.get(f"{auth_server.url}/health", headers=bearer(secret)).json() == {"status": "ok"}


async def test_a_secret_opens_one_webrtc_call_once(auth_server: RunningServer) -> None:
    secret = str(mint(auth_server.url)["value"])
    client = WebRTCClient(auth_server.url, headers=bearer(secret))
    try:
        await client.connect()
        assert (await client.wait_for("session.created", 20))["type"] == "session.created"
    finally:
        await client.close()
    again = WebRTCClient(auth_server.url, headers=bearer(secret))
    with pytest.raises(RuntimeError, match=r"401.*already used"):
        await again.connect()
    await again.close()
    # used on a WebSocket first, then on WebRTC: still once
    other = str(mint(auth_server.url)["value"])
    assert (await open_realtime(auth_server.url, headers=bearer(other))).status == 101
    late = WebRTCClient(auth_server.url, headers=bearer(other))
    with pytest.raises(RuntimeError, match="401"):
        await late.connect()
    await late.close()


async def test_an_expired_secret_is_refused(clocked_server: ClockedServer) -> None:
    """The server's clock is driven by the test: 59 s after minting a 60 s secret it works, at 60 s not."""
    clocked_server.clock.advance(61)  # a fresh per-minute window for this test
    secrets = [str(mint(clocked_server.url)["value"]) for _ in range(2)]
    clocked_server.clock.advance(59)
    assert (await open_realtime(clocked_server.url, headers=bearer(secrets[0]))).status == 101
    clocked_server.clock.advance(1)
    expired = await open_realtime(clocked_server.url, headers=bearer(secrets[1]))
    assert_invalid_api_key(expired.status, expired.body)
    assert "expired" in expired.body["error"]["message"]
    short = mint(clocked_server.url, expires_after={"anchor": "created_at", "seconds": 10})
    clocked_server.clock.advance(10)
    refused = WebRTCClient(clocked_server.url, headers=bearer(str(short["value"])))
    with pytest.raises(RuntimeError, match="401"):
        await refused.connect()
    await refused.close()


async def test_the_demo_gets_secrets_with_its_password_only(auth_server: RunningServer) -> None:
    basic = {"Authorization": "Basic " + base64.b64encode(f"me:{DEMO_PASSWORD}".encode()).decode()}
    wrong = {"Authorization": "Basic " + base64.b64encode(b"me:nope").decode()}
    async with httpx.AsyncClient(base_url=auth_server.url) as http:
        refused = await http.post("/demo/session-token")
        assert_invalid_api_key(refused.status_code, refused.json())
        assert (await http.post("/demo/session-token", headers=wrong)).status_code == 401
        token = (await http.post("/demo/session-token", headers=basic | {"Origin": auth_server.url})).json()
        assert token["auth"] is True and token["value"].startswith("ek_")
        # another site cannot make the browser mint one with its cached demo password
        cross = await http.post("/demo/session-token", headers=basic | {"Origin": "http://evil.example"})
        assert cross.status_code == 403 and cross.json()["error"]["code"] == "origin_not_allowed"
    call = WebRTCClient(auth_server.url, headers=bearer(token["value"]))
    try:
        await call.connect()
        assert (await call.wait_for("session.created", 20))["type"] == "session.created"
    finally:
        await call.close()
