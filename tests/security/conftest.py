"""Servers for the security tests.

- ``auth_server``: a real ``theo serve`` with two API keys (one from ``THEO_API_KEYS``, one from a keys file),
  a CORS allowlist and ICE on 127.0.0.1 for aiortc peers;
- ``clocked_server``: the same app under a real uvicorn in this process, so a test can drive the clock that
  secret expiry and the per-minute window read (no sleeping), with small per-key limits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from bench.harness import free_port
from tests.conftest import RunningServer, start_server
from theo_rtc.auth import SecurityState

KEY = "sk-theo-test-env-4f9c2a"
FILE_KEY = "sk-theo-test-file-81b7d0"
ALLOWED_ORIGIN = "http://allowed.example:3000"
DEMO_PASSWORD = "demo-pass-27"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="package")
def auth_server(theo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("auth-server")
    keys_file = directory / "keys.txt"
    keys_file.write_text(f"# operators\n{FILE_KEY}\n\n")
    running = start_server(
        theo_home,
        directory / "server.log",
        preload=("whisper-tiny.en",),
        env={
            "THEO_API_KEYS": KEY,
            "THEO_API_KEYS_FILE": str(keys_file),
            "THEO_CORS_ORIGINS": ALLOWED_ORIGIN,
            "THEO_DEMO_PASSWORD": DEMO_PASSWORD,
            "THEO_WEBRTC_ICE_HOSTS": '["127.0.0.1"]',
            "THEO_WEBRTC_CONNECT_TIMEOUT_S": "5",
        },
    )
    yield running
    running.stop()


class FakeClock:
    """Monotonic and wall clock in one, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.wall = time.time()

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.wall + (self.now - 1000.0)

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class ClockedServer:
    url: str
    clock: FakeClock
    security: SecurityState  # the server's own, read by tests that wait for a slot to be freed


REQUESTS_PER_MINUTE = 4
SESSIONS_PER_KEY = 1


@pytest.fixture(scope="package")
def clocked_server(theo_home: Path) -> Iterator[ClockedServer]:
    from theo_rtc.config import TheoSettings
    from theo_rtc.server import create_app

    settings = TheoSettings(
        home=theo_home,
        preload_models=["whisper-tiny.en"],
        api_keys=[KEY, FILE_KEY],
        api_key_requests_per_minute=REQUESTS_PER_MINUTE,
        api_key_max_sessions=SESSIONS_PER_KEY,
        webrtc_ice_hosts=["127.0.0.1"],
    )
    app = create_app(settings)
    clock = FakeClock()
    app.state.security.set_clock(clock.monotonic, clock.time)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)  # not the main thread: no signal handlers
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("in-process server did not start")
        time.sleep(0.1)
    assert httpx.get(f"{url}/health", timeout=10).status_code == 200
    yield ClockedServer(url, clock, app.state.security)
    server.should_exit = True
    thread.join(30)
