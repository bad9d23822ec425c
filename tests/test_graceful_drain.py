"""Issue 14, finding 7: SIGTERM drains instead of dropping what is being said.

Before: WebSocket clients got close 1012 with no final and no ``session.closed``, and the server then
waited for a long REST request without a bound. Now SIGTERM turns ``/health`` 503 at once, refuses new
sessions and requests, flushes every session (its final, ``session.closed`` reason ``server_shutdown``, close
1001), gives REST requests the grace period and answers the ones still running 503, then exits with 0.

The REST request that outlives the grace is made deterministic: it goes to a second model's worker that
the test SIGSTOPs (health checks off here, so nothing frees it but the drain).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bench.evalsets import EVAL_ROOT
from tests.conftest import RunningServer, start_server
from tests.realtime.helpers import pcm16

GRACE_S = 6.0
HANG_GUARD_S = 120
GOFORWARD = EVAL_ROOT / "librivox_pocketsphinx_en" / "goforward.wav"
ENV = {
    "THEO_SHUTDOWN_GRACE_S": str(GRACE_S),
    "THEO_WORKER_HEALTH_INTERVAL_S": "0",  # the hung worker stays hung: only the drain ends its request
    "THEO_WORKER_DEADLINE_FLOOR_S": "600",
}


async def in_flight(http: httpx.AsyncClient, model: str) -> int:
    workers = (await http.get("/api/ps")).json()["models"]
    return int(next(w["in_flight"] for w in workers if w["model"] == model))


async def test_sigterm_flushes_the_utterance_in_progress_and_exits_zero(
    theo_home: Path, tmp_path: Path
) -> None:
    server = start_server(
        theo_home, tmp_path / "server.log", preload=("whisper-tiny.en", "whisper-base"), env=ENV
    )
    stopped: list[int] = []
    try:
        await _drain_scenario(server, stopped)
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
        for pid in stopped:  # a stopped worker left behind would never act on its parent's death
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


async def _drain_scenario(server: RunningServer, stopped: list[int]) -> None:
    url = server.url
    ws_url = url.replace("http://", "ws://")
    data, rate = pcm16(GOFORWARD)
    events: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=url, timeout=HANG_GUARD_S) as http:
        # A REST request that cannot finish: its worker (whisper-base) is stopped while it decodes.
        base = next(w for w in (await http.get("/api/ps")).json()["models"] if w["model"] == "whisper-base")
        stuck = asyncio.create_task(
            http.post(
                "/v1/audio/transcriptions",
                data={"model": "whisper-base", "language": "en"},
                files={"file": ("goforward.wav", GOFORWARD.read_bytes(), "audio/wav")},
            )
        )
        while await in_flight(http, "whisper-base") == 0:
            assert not stuck.done(), stuck.result().text
            await asyncio.sleep(0.02)
        os.kill(base["pid"], signal.SIGSTOP)
        stopped.append(base["pid"])

        async with websockets.connect(f"{ws_url}/v1/realtime?sample_rate={rate}", max_size=None) as ws:
            speaking = asyncio.Event()

            async def reader() -> None:
                async for message in ws:
                    event = json.loads(message)
                    events.append(event)
                    if event["type"] == "vad.speech_start":
                        speaking.set()

            reading = asyncio.create_task(reader())
            frame = rate // 50 * 2
            sent = 0
            # Real-time pace until the speech has started and 1 s more of it is sent: mid-utterance.
            for sent in range(0, len(data), frame):
                await ws.send(data[sent : sent + frame])
                await asyncio.sleep(0.02)
                if speaking.is_set() and sent > len(data) // 2:
                    break
            assert speaking.is_set() and sent < len(data) - frame, "the utterance ended before SIGTERM"
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)

            health = await http.get("/health")  # at once: the stuck request holds the drain open
            new_request = await http.post(
                "/v1/audio/transcriptions",
                data={"model": "whisper-tiny.en"},
                files={"file": ("goforward.wav", GOFORWARD.read_bytes(), "audio/wav")},
            )
            with pytest.raises(InvalidStatus) as refused:
                async with websockets.connect(f"{ws_url}/v1/realtime"):
                    pass

            await asyncio.wait_for(reading, HANG_GUARD_S)
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            close_code = ws.close_code

        stuck_response = await asyncio.wait_for(stuck, HANG_GUARD_S)
    returncode = await asyncio.to_thread(server.process.wait, HANG_GUARD_S)
    exited_after = time.monotonic() - signalled

    assert health.status_code == 503 and health.json()["status"] == "draining", health.text
    assert new_request.status_code == 503, new_request.text
    assert new_request.json()["error"]["code"] == "server_shutting_down"
    assert refused.value.response.status_code == 503
    finals = [e for e in events if e["type"] == "transcript.final"]
    assert finals and finals[-1]["text"].strip(), events  # the utterance in progress was committed
    assert events[-1]["type"] == "session.closed" and events[-1]["reason"] == "server_shutdown", events[-3:]
    assert close_code == 1001
    # The REST request still running at the end of the grace: answered, not dropped.
    assert stuck_response.status_code == 503, stuck_response.text
    assert stuck_response.json()["error"]["code"] == "server_shutting_down"
    assert returncode == 0, server.log()[-3000:]
    assert exited_after < GRACE_S + 10, exited_after  # the grace, then shutting the workers down
