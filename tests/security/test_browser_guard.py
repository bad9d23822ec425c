"""Finding 4 (issue 14), browser security: a CORS allowlist (THEO_CORS_ORIGINS), ``Origin`` checked on
WebSockets and on "simple" cross-origin requests (a form's multipart POST runs without a preflight), and
``Host`` checked against an allowlist on HTTP and WebSocket, so a DNS-rebinding page reaches nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.evalsets import load_set
from tests.conftest import RunningServer, start_server
from tests.security.conftest import ALLOWED_ORIGIN, KEY, bearer
from tests.security.helpers import open_realtime, raw_handshake

EVIL = "http://evil.example"


@pytest.fixture(scope="module")
def open_server(theo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Today's default: loopback, no keys, no CORS origins."""
    running = start_server(
        theo_home, tmp_path_factory.mktemp("open-server") / "server.log", preload=("whisper-tiny.en",)
    )
    yield running
    running.stop()


def port_of(server: RunningServer) -> str:
    return server.url.rsplit(":", 1)[1]


def test_cors_preflight_from_an_allowed_and_a_refused_origin(auth_server: RunningServer) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    allowed = httpx.options(
        f"{auth_server.url}/v1/audio/transcriptions", headers=preflight | {"Origin": ALLOWED_ORIGIN}
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    refused = httpx.options(
        f"{auth_server.url}/v1/audio/transcriptions", headers=preflight | {"Origin": EVIL}
    )
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    # the allowed page reads the answer and the headers it needs
    answer = httpx.get(f"{auth_server.url}/v1/models", headers=bearer(KEY) | {"Origin": ALLOWED_ORIGIN})
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "x-request-id" in answer.headers["access-control-expose-headers"]


@pytest.mark.parametrize("server_name", ["open_server", "auth_server"])
def test_a_cross_origin_multipart_post_is_not_executed(
    request: pytest.FixtureRequest, server_name: str
) -> None:
    server: RunningServer = request.getfixturevalue(server_name)
    audio = load_set("librivox_pocketsphinx_en")[0].path
    for origin in (EVIL, "null"):
        with audio.open("rb") as f:
            response = httpx.post(
                f"{server.url}/v1/audio/transcriptions",
                headers=bearer(KEY) | {"Origin": origin},
                files={"file": (audio.name, f)},
                data={"model": "whisper-1"},
                timeout=60,
            )
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "origin_not_allowed"
    with audio.open("rb") as f:  # the same request from Theo's own page is served
        own = httpx.post(
            f"{server.url}/v1/audio/transcriptions",
            headers=bearer(KEY) | {"Origin": server.url},
            files={"file": (audio.name, f)},
            data={"model": "whisper-1"},
            timeout=120,
        )
    assert own.status_code == 200 and own.json()["text"], own.text


@pytest.mark.parametrize("server_name", ["open_server", "auth_server"])
async def test_websocket_origin(request: pytest.FixtureRequest, server_name: str) -> None:
    server: RunningServer = request.getfixturevalue(server_name)
    for origin in (EVIL, "null", "http://127.0.0.1:1"):  # another port is another origin
        refused = await open_realtime(server.url, headers=bearer(KEY), origin=origin)
        assert refused.status == 403 and refused.body["error"]["code"] == "origin_not_allowed", refused
    for origin in (None, server.url):  # a non-browser client; Theo's own page
        assert (await open_realtime(server.url, headers=bearer(KEY), origin=origin)).status == 101
    listed = await open_realtime(server.url, headers=bearer(KEY), origin=ALLOWED_ORIGIN)
    assert listed.status == (101 if server_name == "auth_server" else 403)


@pytest.mark.parametrize("server_name", ["open_server", "auth_server"])
def test_a_foreign_host_is_refused_on_http(request: pytest.FixtureRequest, server_name: str) -> None:
    server: RunningServer = request.getfixturevalue(server_name)
    port = port_of(server)
    for path in ("/health", "/v1/models", "/"):
        response = httpx.get(
            f"{server.url}{path}", headers=bearer(KEY) | {"Host": f"rebind.evil.example:{port}"}
        )
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_host", path
    for host in (
        f"localhost:{port}",
        f"127.0.0.1:{port}",
        f"[::1]:{port}",
        "localhost",
        f"192.168.7.7:{port}",
    ):
        assert httpx.get(f"{server.url}/v1/models", headers=bearer(KEY) | {"Host": host}).status_code == 200


@pytest.mark.parametrize("server_name", ["open_server", "auth_server"])
async def test_a_foreign_host_is_refused_on_websocket(
    request: pytest.FixtureRequest, server_name: str
) -> None:
    server: RunningServer = request.getfixturevalue(server_name)
    port = port_of(server)
    path = "/v1/realtime?intent=transcription"
    assert await raw_handshake(server.url, f"rebind.evil.example:{port}", path) == 400
    # past the Host check: served without keys, a 401 with them
    assert await raw_handshake(server.url, f"localhost:{port}", path) == (
        101 if server_name == "open_server" else 401
    )


async def test_no_keys_keeps_todays_behaviour(open_server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=open_server.url) as http:
        assert (await http.get("/v1/models")).status_code == 200
        assert (await http.get("/health")).json()["workers"]  # full detail, as before
        assert (await http.post("/demo/session-token")).json() == {"auth": False}
    assert (await open_realtime(open_server.url)).status == 101
    browser = await open_realtime(open_server.url, subprotocols=["realtime"], origin=open_server.url)
    assert browser.status == 101 and browser.subprotocol == "realtime"
