"""TTS fixtures: real engines loaded once per session from models pulled through the model store.

Models land in the same gitignored store the rest of the suite uses (``.cache/theo-test-home``), so
they are downloaded from the registries once and reused.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from theo_rtc.backends.discovery import load_tts_backend
from theo_rtc.backends.tts import TTSBackend

REPO = Path(__file__).resolve().parents[2]
TEST_HOME = Path(os.environ.get("THEO_TEST_HOME", REPO / ".cache" / "theo-test-home"))


def _installed(name: str) -> tuple[Path, dict[str, object]]:
    from theo_rtc.config import TheoSettings
    from theo_rtc.registry import ModelStore

    model = ModelStore(TheoSettings(home=TEST_HOME)).install(name)
    return model.path, dict(model.manifest.engine_config)


@pytest_asyncio.fixture(scope="session")
async def kokoro() -> AsyncIterator[TTSBackend]:
    path, config = _installed("kokoro-82m")
    backend = load_tts_backend("kokoro")
    await backend.load(path, config)
    yield backend
    await backend.unload()


@pytest_asyncio.fixture(scope="session")
async def piper() -> AsyncIterator[TTSBackend]:
    pytest.importorskip("theo_plugin_piper", reason="optional GPL plugin not installed")
    path, config = _installed("piper-en-joe")
    backend = load_tts_backend("piper")
    await backend.load(path, config)
    yield backend
    await backend.unload()


@pytest_asyncio.fixture(scope="session")
async def espeak() -> AsyncIterator[TTSBackend]:
    backend = load_tts_backend("espeak-ng")
    await backend.load(None, {})
    yield backend
    await backend.unload()
