"""A whole spoken turn with the real local model: `theo serve` with no LLM endpoint configured uses its
managed llama.cpp runtime (SmolLM2-135M, the fast fixture); real speech in over ``WS /v1/realtime``, the
model's answer spoken back by Piper. What the model says is not scripted, so the test checks that a turn
happened end to end, not its words."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets

from bench.evalsets import EVAL_ROOT, normalize
from bench.harness import RunningServer, start_server
from tests.agent.harness import TheoSocket
from tests.realtime.helpers import pcm16

SPEECH = EVAL_ROOT / "librivox_pocketsphinx_en" / "goforward.wav"
MODEL = "smollm2-135m"


@pytest.fixture(scope="module")
def local_llm_server(theo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("local-agent") / "server.log"
    running = start_server(
        theo_home, log, preload=("whisper-tiny.en", MODEL), env={"THEO_AGENT_LLM_MODEL": MODEL}
    )
    yield running
    running.stop()


async def test_a_spoken_turn_with_the_local_model(local_llm_server: RunningServer) -> None:
    url = local_llm_server.url.replace("http://", "ws://") + "/v1/realtime?sample_rate=16000"
    async with websockets.connect(url, max_size=None) as ws:
        sock = TheoSocket(ws, within_s=180)

        agent = {"max_tokens": 40, "interruptions": "mute"}
        await ws.send(json.dumps({"type": "session.configure", "tts_model": "piper-en-joe", "agent": agent}))
        configured = await sock.until("agent.configured")
        llm = configured["options"]["llm"]
        assert llm["model"] == MODEL and llm["base_url"].startswith("http://127.0.0.1:"), llm
        speech, _ = pcm16(SPEECH, 16_000)
        audio = speech + bytes(32_000 * 2)
        for i in range(0, len(audio), 640):
            await ws.send(audio[i : i + 640])
        done = await sock.until("agent.response.text.done")
        final = next(e for e in sock.events if e["type"] == "transcript.final")
        assert "forward" in normalize(final["text"])
        assert done["text"].strip() and not any(e["type"] == "error" for e in sock.events), sock.events
        assert [e["text"] for e in sock.events if e["type"] == "agent.response.text.delta"], (
            "streamed in pieces"
        )
        end = next(e for e in sock.events if e["type"] == "tts.speaking_end")
        assert end["audio_ms"] > 300 and sock.audio_bytes > 0
        await ws.send(json.dumps({"type": "session.close"}))
        await sock.until("session.closed")
