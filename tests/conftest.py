"""Shared fixtures: a model store with real models pulled from the registries, and a real server.

The store lives in ``.cache/theo-test-home`` (gitignored) so repeated runs don't download again; a clean
clone pulls everything through the same code path ``theo pull`` uses.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_HOME = Path(os.environ.get("THEO_TEST_HOME", REPO / ".cache" / "theo-test-home"))
# smollm2-135m: the local LLM runtime's fixture (tests/agent/test_local_llm.py), 94 MB, fast on 2 cores.
MODELS = (
    "whisper-tiny.en",
    "whisper-base",
    "silero-vad",
    "kokoro-82m",
    "piper-en-joe",
    "smollm2-135m",
    "smart-turn-v3.2",
)

sys.path.insert(0, str(REPO))  # bench.evalsets, bench.harness

from bench.harness import THEO, RunningServer, start_server  # noqa: E402

__all__ = ["THEO", "RunningServer"]


@pytest.fixture(scope="session")
def theo_home() -> Path:
    from theo_rtc.config import TheoSettings
    from theo_rtc.registry import ModelStore

    store = ModelStore(TheoSettings(home=TEST_HOME))
    for name in MODELS:
        store.install(name)
    return TEST_HOME


@pytest.fixture(scope="session")
def server(theo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A real `theo serve` (uvicorn) on 127.0.0.1 with whisper-tiny.en and whisper-base preloaded."""
    running = start_server(
        theo_home,
        tmp_path_factory.mktemp("server") / "server.log",
        preload=("whisper-tiny.en", "whisper-base"),
        # The session storms (tests/realtime/test_limits.py) open thousands of sockets from 127.0.0.1;
        # the per-source limit is tested on its own server (tests/webrtc/test_offer_flood.py).
        env={"THEO_ADMISSION_WEBSOCKETS_PER_SOURCE": ""},
    )
    yield running
    running.stop()


@pytest.fixture(scope="session")
def client(server: RunningServer) -> openai.OpenAI:
    """The official OpenAI SDK pointed at Theo."""
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="not-needed", max_retries=0, timeout=300)


@pytest.fixture(scope="session")
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=300) as c:
        yield c
