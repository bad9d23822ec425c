"""Fillers: a short pre-rendered sound in the agent's voice when the answer is slow to start. Real
whisper-tiny.en and Piper; the scripted LLM holds its first token until the test releases it, and the filler
delay is a :class:`ManualTimer` the test fires, so "the answer was slow" is decided by the test, never by
the machine's speed."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.agent.harness import FIRST, open_call, play_out, say, timer_of, until_state
from tests.agent.scripted_llm import Reply, ScriptedLLM
from tests.transports.harness import Events
from theo_rtc.agent import AgentOptions, LLMEndpoint
from theo_rtc.agent.fillers import FILLER_PHRASES
from theo_rtc.config import TheoSettings
from theo_rtc.runtime import TheoRuntime
from theo_rtc.transports import Call


@pytest.fixture(scope="module")
async def runtime(theo_home: Path) -> AsyncIterator[TheoRuntime]:
    async with TheoRuntime(TheoSettings(home=theo_home)) as rt:
        yield rt


def final(call: Call, text: str) -> None:
    """A turn as the session would end it (the first turn is real speech; the next ones are injected)."""
    assert call.agent is not None
    call.agent.on_event({"type": "transcript.final", "text": text, "segment_id": 99})


async def turn_done(events: Events, count: int) -> dict[str, object]:
    return await events.wait_for("agent.response.text.done", count)


async def test_a_slow_answer_starts_with_a_filler_never_the_same_twice_in_a_row(runtime: TheoRuntime) -> None:
    first_hold, second_hold, fourth_hold = threading.Event(), threading.Event(), threading.Event()
    answers = ["Your table is booked for eight.", "The kitchen closes at ten.", "Yes, we have parking."]
    script = [
        Reply(answers[0], hold=first_hold),
        Reply(answers[1], hold=second_hold),
        Reply(answers[2]),
        Reply("Goodbye then.", hold=fourth_hold),
    ]
    with ScriptedLLM(script) as llm:
        options = AgentOptions(llm=LLMEndpoint(llm.base_url, "scripted"))
        assert options.fillers is True and options.filler_delay_s == 0.6
        call, events, sink = await open_call(runtime, options)
        agent, timer = call.agent, timer_of(call)
        assert agent is not None
        await agent.fillers.ready()  # rendered once at start, in the agent's voice
        clips = agent.fillers.clips
        assert [c.text for c in clips] == list(FILLER_PHRASES["en"])
        assert all(c.model == "piper-en-joe" and 0.2 < c.duration_s < 2.0 for c in clips), clips

        # 1: the LLM is slow (held): once the delay has passed, a filler plays before any answer
        say(call, FIRST)
        await timer.until_armed(1)
        assert timer.delays == [0.6]
        timer.fire()
        filler = await events.wait_for("agent.filler")
        start = await events.wait_for("tts.speaking_start")
        assert filler["response_id"] == start["request_id"]
        assert filler["text"] == clips[0].text and filler["audio_ms"] == round(clips[0].duration_s * 1000)
        await sink.until(lambda: sink.queued_s >= clips[0].duration_s - 1e-6)
        assert not events.of("agent.response.text.delta"), "the filler went out while the LLM said nothing"
        await until_state(events, "speaking")
        first_hold.set()
        await play_out(call, sink)
        done = await turn_done(events, 1)
        end = events.of("tts.speaking_end")[0]
        assert len(events.of("tts.speaking_start")) == 1, "the filler and the answer are one utterance"
        assert end["audio_ms"] > filler["audio_ms"] and end["cancelled"] is False
        assert done["text"] == answers[0] == done["heard_text"], "the filler is not part of the answer"
        assert agent.conversation.turns[-1] == {"role": "assistant", "content": answers[0]}

        # 2: slow again: a filler, not the same one
        final(call, "When does the kitchen close?")
        await timer.until_armed(2)
        timer.fire()
        second = await events.wait_for("agent.filler", 2)
        assert second["text"] != filler["text"] and second["text"] == clips[1].text
        second_hold.set()
        await play_out(call, sink)
        assert (await turn_done(events, 2))["text"] == answers[1]

        # 3: the answer is there before the delay passes: no filler (firing later changes nothing)
        final(call, "Do you have parking?")
        await timer.until_armed(3)
        await events.wait_for("agent.response.text.delta", 3)
        timer.fire()
        await play_out(call, sink)
        assert (await turn_done(events, 3))["text"] == answers[2]
        assert len(events.of("agent.filler")) == 2

        # 4: fillers turned off: no timer at all, however slow the LLM
        agent.update(dataclasses.replace(options, fillers=False))
        final(call, "That is all, thanks.")
        await until_state(events, "thinking", 4)
        async with asyncio.timeout(60):
            while len(llm.requests) < 4:  # noqa: ASYNC110 (the LLM's server runs in another thread)
                await asyncio.sleep(0.02)
        fourth_hold.set()
        await play_out(call, sink)
        assert (await turn_done(events, 4))["text"] == "Goodbye then."
        assert len(timer.delays) == 3 and len(events.of("agent.filler")) == 2

        # the LLM never saw a filler
        for request in llm.requests:
            said = [m["content"] for m in request["messages"] if m["role"] == "assistant"]
            assert not any(c.text in text for c in clips for text in said), said
        await call.close()


async def test_fillers_are_an_option_on_the_wire() -> None:
    base = AgentOptions(llm=LLMEndpoint("http://127.0.0.1:1/v1", "m"))
    changed = base.updated({"fillers": False, "filler_delay_s": 1})
    assert changed.fillers is False and changed.filler_delay_s == 1.0
    bad_values = (({"fillers": "no"}, "agent.fillers"), ({"filler_delay_s": -1}, "agent.filler_delay_s"))
    for bad, param in bad_values:
        with pytest.raises(Exception) as caught:
            base.updated(bad)
        assert getattr(caught.value, "param", None) == param
