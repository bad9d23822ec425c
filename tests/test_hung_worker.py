"""Issue 14, finding 2: a hung STT worker (SIGSTOP: alive, not answering) must not block anyone forever.

Before: REST requests waited until SIGCONT (91-93 s), a streaming session got nothing, ``/health`` said 200
throughout. Now the supervisor's health checks (every 0.5 s here, 2 misses in a row) mark the worker
unhealthy, kill it and restart it: the REST request in flight gets a 503/504 within its deadline, ``/health``
answers 503 naming the worker, and the streaming session gets a recoverable ``error`` and then every final
(replayed from its last commit), as after a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from bench.evalsets import EVAL_ROOT
from tests.conftest import RunningServer, start_server
from tests.realtime.helpers import pcm16

DEADLINE_FLOOR_S = 20.0
PER_AUDIO_S = 2.0
GOFORWARD = EVAL_ROOT / "librivox_pocketsphinx_en" / "goforward.wav"
DIGITS = EVAL_ROOT / "vosk_digits_en" / "vosk_test.wav"
REST_AUDIO_S = 60.0
HANG_GUARD_S = 240  # the old code waits for SIGCONT, which never comes: fail instead of hanging

ENV = {
    "THEO_WORKER_HEALTH_INTERVAL_S": "0.5",
    "THEO_WORKER_HEALTH_TIMEOUT_S": "0.5",
    "THEO_WORKER_HEALTH_FAILURES": "2",
    "THEO_WORKER_DEADLINE_FLOOR_S": str(DEADLINE_FLOOR_S),
    "THEO_WORKER_DEADLINE_PER_AUDIO_S": str(PER_AUDIO_S),
    # The restart waits 3 s before respawning, so the unhealthy worker is seen on /health for that long.
    "THEO_WORKER_RESTART_BACKOFF_S": "3",
}


STOPPED: list[int] = []  # workers this module SIGSTOPped


@pytest.fixture(scope="module")
def hung_server(theo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        theo_home, tmp_path_factory.mktemp("hung") / "server.log", preload=("whisper-tiny.en",), env=ENV
    )
    yield running
    running.stop()
    for pid in STOPPED:  # if it was never killed, a stopped worker would outlive the server
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


async def stt_worker(http: httpx.AsyncClient) -> dict[str, Any]:
    workers = (await http.get("/api/ps")).json()["models"]
    return next(w for w in workers if w["model"] == "whisper-tiny.en")


def long_wav(seconds: float) -> bytes:
    """The digits recording repeated to ``seconds``: a batch request that is still decoding when hung."""
    data, rate = pcm16(DIGITS)
    repeats = int(seconds * rate * 2 / len(data)) + 1
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data * repeats)
    return out.getvalue()


async def test_sigstopped_worker_is_detected_killed_and_restarted(hung_server: RunningServer) -> None:
    ws_url = hung_server.url.replace("http://", "ws://")
    data, rate = pcm16(DIGITS)
    upload = long_wav(REST_AUDIO_S)
    events: list[dict[str, Any]] = []
    second_utterance = asyncio.Event()
    stopped = asyncio.Event()
    async with httpx.AsyncClient(base_url=hung_server.url, timeout=HANG_GUARD_S) as http:
        before = await stt_worker(http)
        assert before["state"] == "ready"

        async def transcribe() -> tuple[httpx.Response, float]:
            started = time.monotonic()
            response = await http.post(
                "/v1/audio/transcriptions",
                data={"model": "whisper-tiny.en"},
                files={"file": ("long.wav", upload, "audio/wav")},
            )
            return response, time.monotonic() - started

        async def hang_the_worker_mid_request() -> tuple[httpx.Response, float]:
            """Mid-utterance for the session, and with a REST request in the worker: SIGSTOP it."""
            await second_utterance.wait()
            rest = asyncio.create_task(transcribe())
            while (await stt_worker(http))["in_flight"] == 0:
                assert not rest.done(), rest.result()[0].text
                await asyncio.sleep(0.05)
            os.kill(before["pid"], signal.SIGSTOP)  # hung, not dead
            STOPPED.append(before["pid"])
            stopped.set()
            return await rest

        async def health_while_hung() -> dict[str, Any]:
            await stopped.wait()
            while True:  # bounded by the hang guard
                response = await http.get("/health")
                if response.status_code == 503:
                    body: dict[str, Any] = response.json()
                    return body
                await asyncio.sleep(0.1)

        async with websockets.connect(f"{ws_url}/v1/realtime?sample_rate={rate}", max_size=None) as ws:

            async def reader() -> None:
                async for message in ws:
                    event = json.loads(message)
                    events.append(event)
                    if event["type"] == "vad.speech_start" and event["segment_id"] == 2:
                        second_utterance.set()

            reading = asyncio.create_task(reader())
            rest = asyncio.create_task(hang_the_worker_mid_request())
            unhealthy = asyncio.create_task(asyncio.wait_for(health_while_hung(), HANG_GUARD_S))
            frame = rate // 50 * 2
            for i in range(0, len(data), frame):
                await ws.send(data[i : i + frame])
                await asyncio.sleep(0.01)
            await ws.send(bytes(rate * 2))
            await ws.send(json.dumps({"type": "session.close"}))
            await asyncio.wait_for(reading, HANG_GUARD_S)
            response, elapsed = await asyncio.wait_for(rest, HANG_GUARD_S)
            health = await unhealthy

    assert stopped.is_set()
    # The REST request: a clear OpenAI-shaped 503/504 within its deadline (floor + 2 x its audio).
    assert response.status_code in (503, 504), response.text
    error = response.json()["error"]
    assert error["code"] in ("worker_unavailable", "worker_timeout") and error["type"] == "server_error"
    if error["code"] == "worker_unavailable":  # killed by the health checks: the message says so
        assert "health checks" in error["message"], error
    assert elapsed < DEADLINE_FLOOR_S + PER_AUDIO_S * REST_AUDIO_S, elapsed
    # /health: 503, naming the worker and why.
    assert health["status"] == "unavailable"
    named = [p for p in health["problems"] if p.startswith("whisper-tiny.en")]
    assert named and "health checks" in named[0], health["problems"]
    # The session: recoverable errors only, then every final exactly once (replayed after the restart).
    errors = [e for e in events if e["type"] == "error"]
    assert errors and all(e["recoverable"] for e in errors), errors
    finals = [e for e in events if e["type"] == "transcript.final"]
    assert [f["segment_id"] for f in finals] == [1, 2, 3], finals
    assert all(f["text"].strip() for f in finals), finals
    assert events[-1]["type"] == "session.closed"

    async with httpx.AsyncClient(base_url=hung_server.url, timeout=HANG_GUARD_S) as http:
        after = await stt_worker(http)
        assert after["state"] == "ready" and after["pid"] != before["pid"]
        assert after["restarts"] == before["restarts"] + 1
        assert (await http.get("/health")).status_code == 200
        retry = await http.post(
            "/v1/audio/transcriptions",
            data={"model": "whisper-tiny.en"},
            files={"file": ("goforward.wav", GOFORWARD.read_bytes(), "audio/wav")},
        )
        assert retry.status_code == 200 and "forward" in retry.json()["text"].lower()
        metrics = (await http.get("/metrics")).text
    assert 'theo_stt_worker_errors_total{kind="health_check",model="whisper-tiny.en"}' in metrics


# With the health checks off, the deadlines alone bound every call to the hung worker.
SHORT_FLOOR_S = 3.0
SHORT_PER_AUDIO_S = 0.25
DEADLINE_ENV = {
    "THEO_WORKER_HEALTH_INTERVAL_S": "0",
    "THEO_WORKER_DEADLINE_FLOOR_S": str(SHORT_FLOOR_S),
    "THEO_WORKER_DEADLINE_PER_AUDIO_S": str(SHORT_PER_AUDIO_S),
}


@pytest.fixture(scope="module")
def deadline_server(theo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        theo_home,
        tmp_path_factory.mktemp("deadline") / "server.log",
        preload=("whisper-tiny.en",),
        env=DEADLINE_ENV,
    )
    yield running
    running.stop()
    for pid in STOPPED:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


async def test_deadlines_bound_calls_to_a_hung_worker(deadline_server: RunningServer) -> None:
    """No health checks: the REST request gets 504 worker_timeout at its deadline, the session recoverable
    worker_timeout errors; once the worker answers again (SIGCONT) the session replays every final."""
    ws_url = deadline_server.url.replace("http://", "ws://")
    data, rate = pcm16(DIGITS)
    upload = long_wav(REST_AUDIO_S)
    events: list[dict[str, Any]] = []
    second_utterance = asyncio.Event()
    timed_out = asyncio.Event()
    async with httpx.AsyncClient(base_url=deadline_server.url, timeout=HANG_GUARD_S) as http:
        worker = await stt_worker(http)

        async def hang_the_worker_mid_request() -> tuple[httpx.Response, float]:
            await second_utterance.wait()
            started = time.monotonic()
            rest = asyncio.create_task(
                http.post(
                    "/v1/audio/transcriptions",
                    data={"model": "whisper-tiny.en"},
                    files={"file": ("long.wav", upload, "audio/wav")},
                )
            )
            while (await stt_worker(http))["in_flight"] == 0:
                assert not rest.done(), rest.result().text
                await asyncio.sleep(0.05)
            os.kill(worker["pid"], signal.SIGSTOP)
            STOPPED.append(worker["pid"])
            response = await rest
            return response, time.monotonic() - started

        async with websockets.connect(f"{ws_url}/v1/realtime?sample_rate={rate}", max_size=None) as ws:

            async def reader() -> None:
                async for message in ws:
                    event = json.loads(message)
                    events.append(event)
                    if event["type"] == "vad.speech_start" and event["segment_id"] == 2:
                        second_utterance.set()
                    if event["type"] == "error" and event.get("code") == "worker_timeout":
                        timed_out.set()

            reading = asyncio.create_task(reader())
            rest = asyncio.create_task(hang_the_worker_mid_request())
            frame = rate // 50 * 2
            for i in range(0, len(data), frame):
                await ws.send(data[i : i + frame])
                await asyncio.sleep(0.01)
            await ws.send(bytes(rate * 2))
            response, elapsed = await asyncio.wait_for(rest, HANG_GUARD_S)
            await asyncio.wait_for(timed_out.wait(), HANG_GUARD_S)
            os.kill(worker["pid"], signal.SIGCONT)  # answering again: the session's replay goes through
            await ws.send(json.dumps({"type": "session.close"}))
            await asyncio.wait_for(reading, HANG_GUARD_S)

        assert response.status_code == 504, response.text
        error = response.json()["error"]
        assert (error["code"], error["type"]) == ("worker_timeout", "server_error"), error
        assert elapsed < HANG_GUARD_S / 2, elapsed  # its deadline: 3 + 0.25 x 60 = 18 s
        errors = [e for e in events if e["type"] == "error"]
        assert errors and all(e["recoverable"] for e in errors), errors
        finals = [e for e in events if e["type"] == "transcript.final"]
        assert [f["segment_id"] for f in finals] == [1, 2, 3], finals
        assert events[-1]["type"] == "session.closed"
        after = await stt_worker(http)
        assert after["pid"] == worker["pid"] and after["restarts"] == worker["restarts"]  # never killed
