"""The voice agent over the WebRTC peer (POST /v1/realtime/calls), as the web demo's "Talk with Theo" mode
uses it: an aiortc client speaks real speech, `session.configure` with ``"agent": {}`` takes the server's
LLM settings (``THEO_AGENT_LLM_*`` pointing at a scripted OpenAI-compatible server started by the test),
and the answer comes back as events on the ``oai-events`` data channel and as Theo's voice on the track."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.evalsets import EVAL_ROOT, normalize
from bench.webrtc_client import WebRTCClient
from tests.agent.scripted_llm import Reply, ScriptedLLM
from tests.conftest import RunningServer, start_server
from tests.realtime.helpers import pcm16
from tests.webrtc.conftest import WEBRTC_ENV
from theo_rtc.agent.options import DEFAULT_INSTRUCTIONS

SPEECH = EVAL_ROOT / "librivox_pocketsphinx_en" / "goforward.wav"  # "go forward ten meters"
ANSWER = "Going forward ten meters sounds good. Watch your step on the way."


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM([Reply(ANSWER)], default=Reply("Sorry, say that again?")) as scripted:
        yield scripted


@pytest.fixture(scope="module")
def agent_server(
    theo_home: Path, tmp_path_factory: pytest.TempPathFactory, llm: ScriptedLLM
) -> Iterator[RunningServer]:
    running = start_server(
        theo_home,
        tmp_path_factory.mktemp("rtc-agent-server") / "server.log",
        preload=("whisper-tiny.en", "piper-en-joe"),
        env=WEBRTC_ENV | {"THEO_AGENT_LLM_BASE_URL": llm.base_url, "THEO_AGENT_LLM_MODEL": "scripted"},
    )
    yield running
    running.stop()


async def test_a_spoken_turn_with_the_agent_over_webrtc(
    agent_server: RunningServer, llm: ScriptedLLM
) -> None:
    client = WebRTCClient(agent_server.url, query={"language": "en"})
    await client.connect()
    try:
        # what the demo sends when the data channel opens in Talk with Theo mode: its voice, the agent
        client.send({"type": "session.configure", "tts_model": "piper-en-joe", "agent": {}})
        configured = await client.wait_for("agent.configured", 30)
        assert configured["options"]["llm"] == {"base_url": llm.base_url, "model": "scripted"}
        assert configured["options"]["interruptions"] == "barge-in"  # the default
        await client.wait_for("agent.state", 5)

        speech, rate = pcm16(SPEECH, 48_000)
        await client.play(speech + bytes(rate * 2 * 3), rate)  # the utterance, then 3 s of silence
        done = await client.wait_for("agent.response.text.done", 90)
        closed_at = time.monotonic()
        done_at = client.time_of("agent.response.text.done")
        assert done_at is not None
        await client.wait_for("agent.state", 5, after=done_at)  # back to listening

        assert done["text"] == ANSWER and done["interrupted"] is False, done
        assert done["heard_text"] == ANSWER
        final = client.of("transcript.final")[0]
        assert "forward" in normalize(final["text"]), final
        # the scripted LLM got the transcript, with the server's default persona and model
        assert len(llm.requests) == 1, llm.requests
        assert llm.requests[0]["model"] == "scripted" and llm.requests[0]["stream"] is True
        assert llm.requests[0]["messages"] == [
            {"role": "system", "content": DEFAULT_INSTRUCTIONS["en"]},
            {"role": "user", "content": final["text"]},
        ]

        kinds = [e["type"] for _, e in client.events]
        turn = [
            kinds.index("transcript.final"),
            kinds.index("agent.response.text.delta"),
            kinds.index("tts.speaking_start"),
            kinds.index("agent.response.text.done"),
        ]
        assert turn == sorted(turn), kinds
        states = [e["state"] for e in client.of("agent.state")]
        assert states[:4] == ["listening", "thinking", "speaking", "listening"], states
        assert client.of("agent.state")[1]["user_text"] == final["text"]
        deltas = [e["text"] for e in client.of("agent.response.text.delta")]
        assert len(deltas) >= 2 and " ".join(deltas) == ANSWER, deltas  # spoken piece by piece
        assert not client.of("error"), client.of("error")

        # The answer's audio arrived on Theo's track, after it began and not before.
        start = client.time_of("tts.speaking_start")
        end = client.of("tts.speaking_end")[0]
        assert start is not None and end["cancelled"] is False and end["playout"] == "observed", end
        assert end["played_ms"] >= end["audio_ms"] - 100, end
        frames = client.received.frames
        audible = sum(0.02 for t, rms in frames if start <= t <= closed_at + 0.5 and rms > 0.01)
        before = sum(0.02 for t, rms in frames if t < start and rms > 0.01)
        assert audible >= 0.6 * end["audio_ms"] / 1000, (audible, end)
        assert before < 0.1, before  # Theo's track was silent while the caller talked
        peak = max(rms for t, rms in frames if t >= start)
        assert peak > 0.05, peak

        client.send({"type": "session.close"})
        closed = await client.wait_for("session.closed", 10)
        assert closed["reason"] == "client"
    finally:
        await client.close()
