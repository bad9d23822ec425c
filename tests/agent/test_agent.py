"""The voice agent on an in-process Call: real whisper-tiny.en hears real speech, a scripted
OpenAI-compatible LLM (real HTTP + SSE, the real ``openai`` client) answers, real Piper speaks the answer
into a sink whose listener hears audio only when the test plays it. Timing is driven by the test: a
stalled LLM never answers, so its first-token deadline always fires."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bench.evalsets import normalize
from tests.agent.harness import FIRST, SECOND, open_call, order, play_out, say, until_state
from tests.agent.scripted_llm import Fail, Reply, ScriptedLLM, Stall
from theo_rtc.agent import EMERGENCY_LINES, AgentOptions, LLMEndpoint
from theo_rtc.agent.conversation import INTERRUPTED_MARK
from theo_rtc.agent.options import DEFAULT_INSTRUCTIONS
from theo_rtc.config import TheoSettings
from theo_rtc.runtime import TheoRuntime


@pytest.fixture(scope="module")
async def runtime(theo_home: Path) -> AsyncIterator[TheoRuntime]:
    async with TheoRuntime(TheoSettings(home=theo_home)) as rt:
        yield rt


def agent_options(llm: ScriptedLLM, **changes: Any) -> AgentOptions:
    return AgentOptions(llm=LLMEndpoint(llm.base_url, "scripted"), **changes)


async def test_the_agent_answers_each_final_piece_by_piece_and_remembers(runtime: TheoRuntime) -> None:
    answer = "Sure, I can book that for you. It will be ready at eight tonight. Anything else?"
    with ScriptedLLM([Reply(answer), Reply("You are welcome.")]) as llm:
        call, events, sink = await open_call(runtime, agent_options(llm))
        say(call, FIRST)
        thinking = await until_state(events, "thinking")
        final = events.of("transcript.final")[0]
        assert thinking["user_text"] == final["text"] and "dashwood" in normalize(final["text"])
        await play_out(call, sink)
        done = await events.wait_for("agent.response.text.done")

        # the LLM got the system prompt and what the caller said, streaming
        request = llm.requests[0]
        assert request["stream"] is True and request["model"] == "scripted"
        assert request["messages"][0] == {"role": "system", "content": DEFAULT_INSTRUCTIONS["en"]}
        assert llm.user_messages(0) == [final["text"]]
        # spoken as three pieces, one utterance, all of it heard
        pieces = [e["text"] for e in events.of("agent.response.text.delta")]
        assert pieces == [
            "Sure, I can book that for you.",
            "It will be ready at eight tonight.",
            "Anything else?",
        ]
        assert len(events.of("tts.speaking_start")) == 1
        end = events.of("tts.speaking_end")[0]
        assert end["cancelled"] is False and end["played_ms"] == end["audio_ms"] > 2000
        assert done["text"] == answer and done["heard_text"] == answer and done["interrupted"] is False
        states = [e["state"] for e in events.of("agent.state")]
        assert states == ["listening", "thinking", "speaking", "listening"], states
        speaking_at, done_at = order(events, "tts.speaking_start", "agent.response.text.done")
        assert speaking_at < done_at

        # the next turn carries the conversation
        say(call, SECOND)
        await events.wait_for("agent.response.text.done", 1)
        await until_state(events, "thinking", 2)
        await play_out(call, sink)
        await events.wait_for("agent.response.text.done", 2)
        history = llm.requests[1]["messages"]
        assert [m["role"] for m in history] == ["system", "user", "assistant", "user"]
        assert history[2]["content"] == answer
        assert "forward" in normalize(history[3]["content"])
        await call.close()


async def test_barge_in_stops_the_answer_and_keeps_only_what_was_heard(runtime: TheoRuntime) -> None:
    long_answer = (
        "Let me tell you about our menu today. We have fresh pasta, three salads and two soups. "
        "The desserts are all made in house every morning by our chef."
    )
    with ScriptedLLM([Reply(long_answer), Reply("Okay, the soup it is.")]) as llm:
        call, events, sink = await open_call(runtime, agent_options(llm))
        say(call, FIRST)
        await events.wait_for("tts.speaking_start")
        assert not call.session.input_gate.closed, "barge-in keeps the microphone open while speaking"
        await sink.until(lambda: sink.queued_s >= 2.0)
        sink.play(1.0)  # the caller has heard one second of the answer, then talks over it
        say(call, SECOND)
        interrupted = await events.wait_for("agent.interrupted")
        first_done = await events.wait_for("agent.response.text.done")
        assert interrupted["played_ms"] == 1000 == first_done["played_ms"]
        assert interrupted["heard_text"] == first_done["heard_text"]
        assert first_done["interrupted"] is True
        heard = first_done["heard_text"]
        assert heard and heard != long_answer and long_answer.startswith(heard.rstrip("…"))
        assert events.of("tts.speaking_end")[0]["cancelled"] is True

        await events.wait_for("agent.response.text.done", 1)
        await until_state(events, "thinking", 2)
        await play_out(call, sink)
        await events.wait_for("agent.response.text.done", 2)
        history = llm.requests[1]["messages"]
        assert history[2] == {"role": "assistant", "content": heard + INTERRUPTED_MARK}, "only what was heard"
        assert "forward" in normalize(history[3]["content"])
        await call.close()


async def test_a_false_interruption_says_the_rest_of_the_answer(runtime: TheoRuntime) -> None:
    """Speech confirmed by VAD stops the answer; when that segment transcribes to nothing (noise), the
    pieces not yet heard are said. The VAD and STT outcomes are injected as the session's events, so the
    test decides what the caller's audio turned out to be."""
    answer = "First, the soup of the day. Then, the fish with rice. Finally, a chocolate cake."
    with ScriptedLLM([Reply(answer)]) as llm:
        call, events, sink = await open_call(runtime, agent_options(llm))
        agent = call.agent
        assert agent is not None
        say(call, FIRST)
        await events.wait_for("tts.speaking_start")
        await sink.until(lambda: not (agent.speaker.speaking and not sink.awaiting_playout))
        first_piece = agent._utterance.pieces[0] if agent._utterance else None
        assert first_piece is not None and first_piece.text == "First, the soup of the day."
        sink.play(first_piece.end_s + 0.8)  # the caller heard the first piece and some of the second
        agent.on_event({"type": "vad.speech_confirmed", "timestamp_ms": 0, "segment_id": 9})
        cut = await events.wait_for("agent.interrupted")
        assert cut["heard_text"].startswith("First, the soup of the day. Then,"), cut
        agent.on_event({"type": "transcript.discarded", "segment_id": 9, "reason": "no_speech"})
        resumed = await events.wait_for("agent.resumed")
        assert resumed["response_id"] == cut["response_id"]
        await play_out(call, sink)
        done = await events.wait_for("agent.response.text.done", 2)
        assert done["text"] == "Then, the fish with rice. Finally, a chocolate cake."
        assert agent.conversation.turns[-1] == {
            "role": "assistant",
            "content": f"{cut['heard_text']} {done['text']}",
        }
        await call.close()


async def test_a_failing_primary_goes_to_the_fallback_then_the_breaker_skips_it(runtime: TheoRuntime) -> None:
    with (
        ScriptedLLM([Fail(500)]) as primary,
        ScriptedLLM([], default=Reply("This is the fallback speaking.")) as fallback,
    ):
        options = AgentOptions(
            llm=LLMEndpoint(primary.base_url, "primary"),
            fallback=LLMEndpoint(fallback.base_url, "fallback"),
            breaker_failures=1,
            breaker_reset_s=3600,
        )
        call, events, sink = await open_call(runtime, options)
        say(call, FIRST)
        await until_state(events, "thinking")
        await play_out(call, sink)
        done = await events.wait_for("agent.response.text.done")
        assert done["text"] == "This is the fallback speaking."
        assert len(primary.requests) == 1 and len(fallback.requests) == 1
        say(call, SECOND)  # the circuit is open: the primary is not asked again
        await events.wait_for("agent.response.text.done", 1)
        await until_state(events, "thinking", 2)
        await play_out(call, sink)
        await events.wait_for("agent.response.text.done", 2)
        assert len(primary.requests) == 1 and len(fallback.requests) == 2
        assert not events.of("error")
        await call.close()


async def test_no_first_token_in_time_anywhere_speaks_the_emergency_line(runtime: TheoRuntime) -> None:
    with ScriptedLLM([], default=Stall()) as primary, ScriptedLLM([Fail(503)]) as fallback:
        options = AgentOptions(
            llm=LLMEndpoint(primary.base_url, "primary"),
            fallback=LLMEndpoint(fallback.base_url, "fallback"),
            first_token_timeout_s=0.5,
        )
        call, events, sink = await open_call(runtime, options)
        say(call, FIRST)
        error = await events.wait_for("error")
        assert error["code"] == "llm_unavailable" and error["recoverable"] is True
        assert "no first token within 0.5 s" in error["message"] and "HTTP 503" in error["message"]
        await play_out(call, sink)
        done = await events.wait_for("agent.response.text.done")
        assert done["text"] == EMERGENCY_LINES["en"], "never dead air"
        assert events.of("agent.response.text.delta")[-1]["emergency"] is True
        assert events.of("tts.speaking_end")[0]["played_ms"] > 1000
        await call.close()


async def test_agent_options_come_from_the_wire_validated() -> None:
    base = AgentOptions(llm=LLMEndpoint("http://127.0.0.1:1/v1", "m"))
    changed = base.updated({"instructions": "Be brief.", "llm": {"model": "other"}, "interruptions": "mute"})
    assert changed.instructions == "Be brief." and changed.llm.model == "other"
    assert changed.interruptions == "mute"
    assert changed.llm.base_url == base.llm.base_url
    cases: list[tuple[dict[str, Any], str]] = [
        ({"colour": "red"}, "agent.colour"),
        ({"interruptions": "sometimes"}, "agent.interruptions"),
        ({"temperature": "hot"}, "agent.temperature"),
        ({"llm": {"model": 7}}, "agent.llm.model"),
        ({"llm": "http://x"}, "agent.llm"),
        ({"instructions": ["a"]}, "agent.instructions"),
    ]
    for bad, param in cases:
        with pytest.raises(Exception) as caught:
            base.updated(bad)
        assert getattr(caught.value, "param", None) == param, (bad, caught.value)
    assert "sk-secret" not in repr(LLMEndpoint("http://h/v1", "m", api_key="sk-secret")), "keys never logged"
