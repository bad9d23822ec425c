"""`POST /v1/livekit/sessions` (the web demo's way into a LiveKit room) against the real livekit-server of
the session fixture, and against a LiveKit that is down or refuses the keys.

The app runs in-process (httpx's ASGI transport, no lifespan: this route starts no engine) so each test can
point it at its own LiveKit settings; the browser test covers the same route through a real `theo serve`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import jwt
import pytest
from fastapi import FastAPI

from theo_rtc.config import TheoSettings
from theo_rtc.server.app import create_app
from theo_rtc.server.routes.livekit import VENDOR_DIR
from theo_rtc.transports.livekit import api as lk
from theo_rtc.transports.livekit.devserver import LocalLiveKit, free_tcp_port
from theo_rtc.transports.livekit.settings import LiveKitSettings

ROUTE = "/v1/livekit/sessions"


@pytest.fixture(scope="module")
def app(theo_home: Path) -> FastAPI:
    return create_app(TheoSettings(home=theo_home))


@pytest.fixture
def client(app: FastAPI) -> Callable[[LiveKitSettings], httpx.AsyncClient]:
    def make(settings: LiveKitSettings) -> httpx.AsyncClient:
        app.state.livekit_settings = settings
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://localhost", timeout=30
        )

    return make


@pytest.fixture
async def theo(
    client: Callable[[LiveKitSettings], httpx.AsyncClient], livekit_server: LocalLiveKit
) -> AsyncIterator[httpx.AsyncClient]:
    async with client(livekit_server.settings) as c:
        yield c


def error(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    return dict(body["error"])


async def test_creates_room_dispatch_and_token(theo: httpx.AsyncClient, livekit_server: LocalLiveKit) -> None:
    response = await theo.post(
        ROUTE,
        json={
            "room": "web-demo-api",
            "identity": "browser-1",
            "language": "en",
            "model": "whisper-tiny.en",
            "voice": "joe",
            "tts_model": "piper-en-joe",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["url"] == livekit_server.url and body["room"] == "web-demo-api"
    assert body["identity"] == "browser-1" and body["agent_name"] == "theo" and body["dispatch_created"]
    claims = jwt.decode(body["token"], livekit_server.api_secret, algorithms=["HS256"])
    assert claims["sub"] == "browser-1" and claims["video"]["room"] == "web-demo-api"
    assert claims["video"]["roomJoin"] is True
    assert await lk.room_exists(livekit_server.settings, "web-demo-api")
    dispatches = [
        d for d in await lk.list_dispatches(livekit_server.settings, "web-demo-api") if d.agent_name == "theo"
    ]
    assert [d.id for d in dispatches] == [body["dispatch_id"]]
    assert json.loads(dispatches[0].metadata) == {
        "language": "en",
        "model": "whisper-tiny.en",
        "tts_model": "piper-en-joe",
        "tts_voice": "joe",
    }
    # a second browser in the same room: same dispatch (one Theo per room), its own token
    again = await theo.post(ROUTE, json={"room": "web-demo-api"})
    assert again.status_code == 200, again.text
    second = again.json()
    assert second["dispatch_id"] == body["dispatch_id"] and second["dispatch_created"] is False
    assert second["identity"].startswith("web-") and second["identity"] != "browser-1"
    await lk.delete_room(livekit_server.settings, "web-demo-api")


async def test_a_dispatch_whose_agent_never_came_is_not_reused(livekit_server: LocalLiveKit) -> None:
    settings = livekit_server.settings
    await lk.create_room(settings, "web-demo-stale")
    created = await lk.create_dispatch(settings, "web-demo-stale", "nobody-registered")
    live = await lk.live_dispatch(settings, "web-demo-stale", "nobody-registered")
    assert live is not None and live.id == created.id  # just sent: the agent may be on its way
    stale = await lk.live_dispatch(settings, "web-demo-stale", "nobody-registered", joining_window_s=0)
    assert stale is None  # not in the room and no longer expected: a new dispatch is due
    assert await lk.live_dispatch(settings, "web-demo-stale", "theo") is None
    await lk.delete_room(settings, "web-demo-stale")


async def test_defaults_make_a_new_room_each_time(theo: httpx.AsyncClient) -> None:
    first, second = (await theo.post(ROUTE, json={})).json(), (await theo.post(ROUTE)).json()
    assert first["room"].startswith("theo-") and first["room"] != second["room"]
    assert first["metadata"] == "" and first["dispatch_created"] and second["dispatch_created"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"room": "no spaces/or slashes"}, "room"),
        ({"room": ""}, "room"),
        ({"room": 5}, "room"),
        ({"identity": "x" * 200}, "identity"),
        ({"language": "english please"}, "language"),
        ({"voice": ""}, "voice"),
        ({"unknown_field": 1}, "unknown_field"),
    ],
)
async def test_bad_fields_are_400(theo: httpx.AsyncClient, body: dict[str, object], param: str) -> None:
    response = await theo.post(ROUTE, json=body)
    assert response.status_code == 400, response.text
    assert error(response)["param"] == param
    assert error(response)["type"] == "invalid_request_error"


async def test_bad_bodies_are_400(theo: httpx.AsyncClient) -> None:
    for content in (b"not json", b"[1, 2]", b'"room"'):
        response = await theo.post(ROUTE, content=content, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (content, response.text)
        assert error(response)["code"] == "invalid_value"


async def test_unknown_model_is_404(theo: httpx.AsyncClient) -> None:
    response = await theo.post(ROUTE, json={"model": "no-such-model"})
    assert response.status_code == 404
    assert error(response)["code"] == "model_not_found" and error(response)["param"] == "model"


async def test_livekit_down_is_503(client: Callable[[LiveKitSettings], httpx.AsyncClient]) -> None:
    nobody = LiveKitSettings(url=f"ws://127.0.0.1:{free_tcp_port()}", api_key="devkey", api_secret="secret")
    async with client(nobody) as theo:
        response = await theo.post(ROUTE, json={"room": "anything"})
    assert response.status_code == 503
    body = error(response)
    assert body["code"] == "livekit_unavailable" and body["type"] == "server_error"
    assert "cannot reach a LiveKit server" in str(body["message"]) and "connection refused" in str(
        body["message"]
    )


async def test_wrong_secret_is_503(
    client: Callable[[LiveKitSettings], httpx.AsyncClient], livekit_server: LocalLiveKit
) -> None:
    wrong = LiveKitSettings(url=livekit_server.url, api_key=livekit_server.api_key, api_secret="not-it")
    async with client(wrong) as theo:
        response = await theo.post(ROUTE, json={})
    assert response.status_code == 503
    assert error(response)["code"] == "livekit_unavailable" and "401" in str(error(response)["message"])


async def test_the_page_gets_livekit_client_from_theo(theo: httpx.AsyncClient) -> None:
    if not (VENDOR_DIR / "livekit-client.umd.js").is_file():
        pytest.fail("livekit-client is not installed: scripts/install-livekit-client (scripts/setup) does it")
    response = await theo.get("/vendor/livekit-client.umd.js")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/javascript")
    assert b"LivekitClient" in response.content[:2000]
    missing = await theo.get("/vendor/nothing.js")
    assert missing.status_code == 404 and error(missing)["code"] == "livekit_client_missing"
    page = await theo.get("/")
    assert 'id="mode-livekit"' in page.text
