"""The voice agent over a real ``theo serve``: ``WS /v1/realtime`` (Theo protocol), ``agent.start`` with a
scripted OpenAI-compatible LLM, real speech in, the answer back as events and as TTS audio frames."""

from __future__ import annotations

import json

import websockets

from bench.evalsets import EVAL_ROOT, normalize
from tests.agent.harness import TheoSocket
from tests.agent.scripted_llm import Reply, ScriptedLLM
from tests.conftest import RunningServer
from tests.realtime.helpers import pcm16

SPEECH = EVAL_ROOT / "librivox_pocketsphinx_en" / "goforward.wav"


async def test_a_caller_talks_with_the_agent_over_the_websocket(server: RunningServer) -> None:
    url = server.url.replace("http://", "ws://") + "/v1/realtime?sample_rate=16000"
    answer = "Going forward is a fine plan. Tell me more."
    with ScriptedLLM([Reply(answer)]) as llm:
        async with websockets.connect(url, max_size=None) as ws:
            sock = TheoSocket(ws)

            await ws.send(json.dumps({"type": "session.configure", "tts_model": "piper-en-joe"}))
            # bad options: an error event, the session stays up
            endpoint = {"base_url": llm.base_url, "model": "scripted"}
            await ws.send(json.dumps({"type": "session.configure", "agent": {"llm": endpoint, "speed": 2}}))
            error = await sock.until("error")
            assert error["param"] == "agent.speed" and "unknown agent option" in error["message"], error
            await ws.send(
                json.dumps({"type": "session.configure", "agent": {"llm": {"base_url": llm.base_url}}})
            )
            assert (await sock.until("error"))["param"] == "agent.llm"
            await ws.send(json.dumps({"type": "session.configure", "agent": "yes"}))
            assert (await sock.until("error"))["param"] == "agent"

            agent = {
                "llm": {"base_url": llm.base_url, "model": "scripted", "api_key": "sk-test"},
                "instructions": "You are a test.",
            }
            await ws.send(json.dumps({"type": "session.configure", "partials": False, "agent": agent}))
            configured = await sock.until("agent.configured")
            assert configured["options"]["llm"] == {"base_url": llm.base_url, "model": "scripted"}, "no key"
            assert sock.events[-3]["type"] == "session.configured", "the session's part is applied first"
            assert sock.events[-3]["config"]["partials"] is False
            assert sock.events[-2] == {
                "type": "agent.state",
                "session_id": sock.events[-2]["session_id"],
                "state": "listening",
            }
            speech, _ = pcm16(SPEECH, 16_000)
            audio = speech + bytes(32_000 * 2)
            for i in range(0, len(audio), 640):
                await ws.send(audio[i : i + 640])
            done = await sock.until("agent.response.text.done")
            assert done["text"] == answer and done["interrupted"] is False
            final = next(e for e in sock.events if e["type"] == "transcript.final")
            assert "forward" in normalize(final["text"])
            assert llm.requests[0]["messages"] == [
                {"role": "system", "content": "You are a test."},
                {"role": "user", "content": final["text"]},
            ]
            end = next(e for e in sock.events if e["type"] == "tts.speaking_end")
            assert end["playout"] == "estimated" and sock.audio_bytes > 16_000, (end, sock.audio_bytes)
            await ws.send(json.dumps({"type": "session.configure", "agent": None}))
            await sock.until("agent.stopped")
            await ws.send(json.dumps({"type": "session.close"}))
            await sock.until("session.closed")
