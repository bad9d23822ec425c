"""TTS worker subprocesses: crash isolation and restart, the speech service in-process, built-in espeak-ng."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.tts.test_encode import decoded_duration
from theo_rtc.config import TheoSettings
from theo_rtc.errors import InvalidRequestError
from theo_rtc.registry import ModelStore
from theo_rtc.runtime import TheoRuntime
from theo_rtc.scheduler import Priority
from theo_rtc.tts.service import SpeechRequest

TEXT = "Hello there. This is the second sentence. And here is a third one."


def worker_info(http: httpx.Client, model: str) -> dict[str, Any]:
    info: dict[str, Any] = next(w for w in http.get("/api/ps").json()["models"] if w["model"] == model)
    return info


def say(http: httpx.Client, model: str, text: str = TEXT) -> httpx.Response:
    return http.post(
        "/v1/audio/speech", json={"model": model, "input": text, "voice": "alloy", "response_format": "wav"}
    )


def test_killed_idle_worker_next_request_succeeds(http: httpx.Client) -> None:
    assert say(http, "espeak-ng").status_code == 200  # make sure the worker runs
    before = worker_info(http, "espeak-ng")
    os.kill(before["pid"], signal.SIGKILL)
    # Sent right away, before the restart: the request waits for the new worker instead of failing.
    response = say(http, "espeak-ng")
    assert response.status_code == 200, response.text
    assert decoded_duration("wav", response.content, 22050) > 2.0
    after = worker_info(http, "espeak-ng")
    assert after["state"] == "ready" and after["pid"] != before["pid"]
    assert after["restarts"] == before["restarts"] + 1
    assert 'theo_worker_restarts_total{model="espeak-ng"}' in http.get("/metrics").text


def test_worker_killed_mid_stream_truncates_then_recovers(http: httpx.Client) -> None:
    assert say(http, "kokoro-82m", "Warm up.").status_code == 200
    before = worker_info(http, "kokoro-82m")
    body = {
        "model": "kokoro-82m",
        "voice": "af_heart",
        "input": TEXT + " " + TEXT,  # six sentences: seconds of synthesis left when the first arrives
        "response_format": "pcm",
    }
    received = 0
    with pytest.raises(httpx.RemoteProtocolError), http.stream("POST", "/v1/audio/speech", json=body) as r:
        assert r.status_code == 200
        for chunk in r.iter_bytes():
            if received == 0:
                os.kill(before["pid"], signal.SIGKILL)
            received += len(chunk)
    # Headers were sent with the first sentence; the only honest signal left is an incomplete body.
    assert received > 0
    response = say(http, "kokoro-82m", "Back again.")
    assert response.status_code == 200, response.text
    after = worker_info(http, "kokoro-82m")
    assert after["pid"] != before["pid"] and after["restarts"] == before["restarts"] + 1
    assert http.get("/health").status_code == 200


# --- in-process: the service the CLI and realtime sessions use -------------------------------------------


@pytest_asyncio.fixture(scope="module")
async def empty_runtime(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TheoRuntime]:
    """A runtime over an empty model store: only the built-in espeak-ng can speak."""
    async with TheoRuntime(TheoSettings(home=tmp_path_factory.mktemp("empty-home"))) as runtime:
        yield runtime


async def test_speaks_with_nothing_pulled(empty_runtime: TheoRuntime) -> None:
    assert empty_runtime.speech.resolve_model("tts-1") == "espeak-ng"
    stream = await empty_runtime.speech.open(SpeechRequest(model="tts-1", input=TEXT))
    chunks = [c async for c in stream]
    assert stream.model == "espeak-ng" and len(chunks) == 3  # one chunk per sentence
    assert {c.sample_rate for c in chunks} == {22050}
    assert stream.audio_seconds == pytest.approx(sum(c.duration for c in chunks)) and stream.audio_seconds > 2


async def test_requested_sample_rate(empty_runtime: TheoRuntime) -> None:
    native = await empty_runtime.speech.open(SpeechRequest(model="espeak-ng", input=TEXT))
    native_seconds = sum([c.duration async for c in native])
    stream = await empty_runtime.speech.open(
        SpeechRequest(model="espeak-ng", input=TEXT, sample_rate=16000), priority=Priority.REALTIME
    )
    chunks = [c async for c in stream]
    assert {c.sample_rate for c in chunks} == {16000}
    assert sum(c.duration for c in chunks) == pytest.approx(native_seconds, abs=0.01)


async def test_unknown_voice_before_any_audio(empty_runtime: TheoRuntime) -> None:
    with pytest.raises(InvalidRequestError) as err:
        await empty_runtime.speech.open(SpeechRequest(model="espeak-ng", input=TEXT, voice="zz-nowhere"))
    assert (err.value.code, err.value.param, err.value.status_code) == ("invalid_voice", "voice", 400)
    assert "zz-nowhere" in err.value.message


async def test_abandoned_stream_frees_its_worker_slot(empty_runtime: TheoRuntime) -> None:
    stream = await empty_runtime.speech.open(SpeechRequest(model="espeak-ng", input=TEXT * 5))
    worker = empty_runtime.workers.get_running("espeak-ng")
    assert worker is not None and worker.limiter.in_use == 1
    async for _ in stream:
        break  # the consumer goes away after the first sentence
    await stream.aclose()
    assert worker.limiter.in_use == 0
    # Opened and never read (e.g. the client vanished before the body started) is freed too.
    unread = await empty_runtime.speech.open(SpeechRequest(model="espeak-ng", input=TEXT))
    await unread.aclose()
    assert worker.limiter.in_use == 0


async def test_voices_of_the_builtin_model(empty_runtime: TheoRuntime) -> None:
    [listing] = await empty_runtime.speech.voices()
    assert (listing.model, listing.engine, listing.error) == ("espeak-ng", "espeak-ng", None)
    languages = {v.id: v.language for v in listing.voices}
    assert languages["pt-br"] == "pt-br" and languages["en-us"] == "en-us"


def test_builtin_model_needs_no_pull(tmp_path: Path) -> None:
    store = ModelStore(TheoSettings(home=tmp_path))
    assert store.is_installed("espeak-ng") and store.builtin() == ("espeak-ng",)
    assert store.list() == []  # not pulled, so not listed until first used
    model = store.get("espeak-ng")
    assert model.manifest.engine == "espeak-ng" and model.manifest.source == "builtin"
    assert [p.name for p in model.path.iterdir()] == ["theo.yaml"]
    assert [m.name for m in store.list()] == ["espeak-ng"]
