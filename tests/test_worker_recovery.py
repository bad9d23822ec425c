"""A worker that dies is detected and restarted: the request in flight gets a clear 503, the next succeeds."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from bench.evalsets import EVAL_ROOT, load_set
from theo_rtc.config import TheoSettings
from theo_rtc.errors import WorkerUnavailableError
from theo_rtc.runtime import TheoRuntime
from theo_rtc.stt import TranscriptionRequest


def worker_info(http: httpx.Client, model: str) -> dict:  # type: ignore[type-arg]
    return next(w for w in http.get("/api/ps").json()["models"] if w["model"] == model)


def test_killed_worker_fails_request_then_recovers(http: httpx.Client) -> None:
    before = worker_info(http, "whisper-base")
    assert before["state"] == "ready"
    longest = max(load_set("fleurs_ptbr"), key=lambda u: u.duration)
    result: dict[str, httpx.Response] = {}

    def transcribe() -> None:
        with longest.path.open("rb") as f:
            result["response"] = http.post(
                "/v1/audio/transcriptions",
                data={"model": "whisper-base", "language": "pt"},
                files={"file": f},
            )

    thread = threading.Thread(target=transcribe)
    thread.start()
    deadline = time.monotonic() + 30
    while worker_info(http, "whisper-base")["in_flight"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # let decoding start inside the worker
    os.kill(before["pid"], signal.SIGKILL)
    thread.join(60)

    response = result["response"]
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "worker_unavailable" and "retry" in error["message"]

    with (EVAL_ROOT / "librivox_pocketsphinx_en" / "goforward.wav").open("rb") as f:
        retry = http.post(
            "/v1/audio/transcriptions", data={"model": "whisper-base", "language": "en"}, files={"file": f}
        )
    assert retry.status_code == 200 and "forward" in retry.json()["text"].lower()
    after = worker_info(http, "whisper-base")
    assert after["restarts"] == before["restarts"] + 1 and after["pid"] != before["pid"]
    assert 'theo_stt_worker_errors_total{kind="exit",model="whisper-base"}' in http.get("/metrics").text


async def test_worker_that_cannot_load_reports_why(theo_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    broken = home / "models" / "broken-whisper"
    shutil.copytree(theo_home / "models" / "whisper-tiny.en", broken)
    (broken / "model.bin").write_bytes(b"not a ctranslate2 model")
    (broken / "theo.yaml").write_text(
        (broken / "theo.yaml").read_text().replace("whisper-tiny.en", "broken-whisper")
    )
    async with TheoRuntime(TheoSettings(home=home, worker_start_timeout_s=60)) as runtime:
        audio = await runtime.transcriptions.load_audio(
            EVAL_ROOT / "librivox_pocketsphinx_en" / "goforward.wav"
        )
        with pytest.raises(WorkerUnavailableError) as err:
            await runtime.transcriptions.transcribe(audio, TranscriptionRequest(model="broken-whisper"))
    assert "failed to start" in err.value.message
    assert "exited with code" in err.value.message


def test_workers_die_with_a_killed_runtime(theo_home: Path) -> None:
    import subprocess
    import sys

    script = (
        "import asyncio\n"
        "from theo_rtc.runtime import TheoRuntime\n"
        "async def main():\n"
        "    runtime = TheoRuntime()\n"
        "    await runtime.start(['whisper-tiny.en'])\n"
        "    print(runtime.workers.infos()[0].pid, flush=True)\n"
        "    await asyncio.sleep(600)\n"
        "asyncio.run(main())\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | {"THEO_HOME": str(theo_home)},
    )
    assert parent.stdout is not None
    worker_pid = int(parent.stdout.readline())
    os.kill(worker_pid, 0)  # alive
    parent.kill()  # SIGKILL: the runtime gets no chance to stop its workers
    parent.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(worker_pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(worker_pid, signal.SIGKILL)
    raise AssertionError("the worker outlived its runtime")
