"""Finding 4 (issue 14), API keys: with THEO_API_KEYS / THEO_API_KEYS_FILE set, every route and transport
refuses a missing or wrong key with OpenAI's 401, and serves the right one; /health stays a liveness probe
without detail; keys never reach the log."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from bench.webrtc_client import WebRTCClient
from tests.conftest import RunningServer
from tests.security.conftest import DEMO_PASSWORD, FILE_KEY, KEY, bearer
from tests.security.helpers import assert_invalid_api_key, open_realtime

WRONG = "sk-theo-wrong-0000"


def routes(server: RunningServer) -> list[tuple[str, str]]:
    """Every (method, path) the server publishes in its OpenAPI schema, path parameters filled in."""
    schema = httpx.get(f"{server.url}/openapi.json", headers=bearer(KEY)).json()
    found = []
    for path, methods in schema["paths"].items():
        for method in methods:
            found.append((method.upper(), path.replace("{", "").replace("}", "")))
    return found


def test_every_route_refuses_a_missing_or_wrong_key(auth_server: RunningServer) -> None:
    listed = [*routes(auth_server), ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/no-such-route")]
    assert len(listed) > 15 and ("POST", "/v1/audio/transcriptions") in listed
    with httpx.Client(base_url=auth_server.url, timeout=60) as http:
        for method, path in listed:
            if path == "/health":
                continue
            for headers in (
                {},
                bearer(WRONG),
                {"Authorization": "Basic " + base64.b64encode(b"u:x").decode()},
            ):
                response = http.request(method, path, headers=headers)
                assert_invalid_api_key(response.status_code, response.json())
                assert response.headers["x-request-id"]


@pytest.mark.parametrize("key", [KEY, FILE_KEY], ids=["env", "file"])
def test_the_right_key_is_served_on_every_route(auth_server: RunningServer, key: str) -> None:
    with httpx.Client(base_url=auth_server.url, timeout=60, headers=bearer(key)) as http:
        for method, path in routes(auth_server):
            response = http.request(method, path)  # no body: a 400 for some, never a 401
            assert response.status_code != 401, (method, path, response.text)
            assert response.status_code < 500 or path == "/v1/livekit/sessions", (method, path, response.text)
        assert http.get("/v1/models").json()["data"]


def test_health_is_liveness_without_a_key_and_detail_with_one(auth_server: RunningServer) -> None:
    for headers in ({}, bearer(WRONG)):
        response = httpx.get(f"{auth_server.url}/health", headers=headers)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}  # no pids, ports, last errors, models
    detail = httpx.get(f"{auth_server.url}/health", headers=bearer(KEY)).json()
    assert detail["workers"] and "pid" in detail["workers"][0] and "port" in detail["workers"][0]
    assert httpx.get(f"{auth_server.url}/api/ps").status_code == 401
    assert httpx.get(f"{auth_server.url}/api/ps", headers=bearer(KEY)).json()["models"][0]["pid"]


def test_demo_pages_ask_for_the_demo_password(auth_server: RunningServer) -> None:
    basic = {"Authorization": "Basic " + base64.b64encode(f"anyone:{DEMO_PASSWORD}".encode()).decode()}
    page = httpx.get(f"{auth_server.url}/")
    assert page.status_code == 401 and page.headers["www-authenticate"].startswith("Basic")
    assert httpx.get(f"{auth_server.url}/", headers=basic).status_code == 200
    assert httpx.get(f"{auth_server.url}/app.js", headers=basic).status_code == 200
    assert httpx.get(f"{auth_server.url}/v1/models", headers=basic).status_code == 200  # the page's lists
    # ... but the demo password is no API key: no transcription, no speech, no detail, no real secrets
    for method, path in [
        ("POST", "/v1/audio/transcriptions"),
        ("POST", "/v1/audio/speech"),
        ("GET", "/api/ps"),
        ("POST", "/v1/realtime/client_secrets"),
    ]:
        response = httpx.request(method, f"{auth_server.url}{path}", headers=basic)
        assert_invalid_api_key(response.status_code, response.json())
    assert httpx.get(f"{auth_server.url}/health", headers=basic).json() == {"status": "ok"}


@pytest.mark.parametrize("query", ["intent=transcription", "model=gpt-4o-transcribe", ""], ids=str)
async def test_websocket_refused_before_accept_without_the_right_key(
    auth_server: RunningServer, query: str
) -> None:
    for kwargs in (
        {},
        {"headers": bearer(WRONG)},
        {"subprotocols": ["realtime", f"openai-insecure-api-key.{WRONG}"]},
    ):
        handshake = await open_realtime(auth_server.url, query, **kwargs)  # type: ignore[arg-type]
        assert_invalid_api_key(handshake.status, handshake.body)


@pytest.mark.parametrize("query", ["intent=transcription", ""], ids=["openai", "theo"])
async def test_websocket_with_the_key_as_header_or_browser_subprotocol(
    auth_server: RunningServer, query: str
) -> None:
    by_header = await open_realtime(auth_server.url, query, headers=bearer(KEY))
    assert by_header.status == 101 and by_header.body["type"].endswith("session.created"), by_header
    by_subprotocol = await open_realtime(
        auth_server.url, query, subprotocols=["realtime", f"openai-insecure-api-key.{FILE_KEY}"]
    )
    assert by_subprotocol.status == 101 and by_subprotocol.body["type"].endswith("session.created")
    assert by_subprotocol.subprotocol == "realtime"  # answered as OpenAI does, or a browser fails the socket


async def test_webrtc_call_needs_the_key(auth_server: RunningServer) -> None:
    for headers in ({}, bearer(WRONG)):
        refused = WebRTCClient(auth_server.url, headers=headers)
        with pytest.raises(RuntimeError, match=r"401.*invalid_api_key"):
            await refused.connect()
        await refused.close()
    client = WebRTCClient(auth_server.url, headers=bearer(KEY))
    try:
        await client.connect()
        assert (await client.wait_for("session.created", 20))["type"] == "session.created"
    finally:
        await client.close()


def test_keys_never_reach_the_log(auth_server: RunningServer) -> None:
    httpx.get(f"{auth_server.url}/v1/models", headers=bearer(f"{KEY}x"))  # a near miss is not echoed either
    response = httpx.get(f"{auth_server.url}/v1/models", headers=bearer(f"{KEY}x"))
    assert KEY not in response.text
    log: Any = auth_server.log()
    assert KEY not in log and FILE_KEY not in log and DEMO_PASSWORD not in log
