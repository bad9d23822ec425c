"""Echo cancellation on an in-process Call with the voice agent: real whisper-tiny.en, real Piper, a
scripted OpenAI-compatible LLM. The caller is on a loudspeaker: while the agent speaks, the microphone
carries the echo (through a synthetic room) of exactly what the sink played, tick by tick on the test's
clock. With the canceller, Theo's own voice does not interrupt Theo and the caller's voice still does;
without it (``echo_cancellation: false``), the echo interrupts the answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.evalsets import EVAL_ROOT, normalize
from tests.agent.scripted_llm import Reply, ScriptedLLM
from tests.echo.loopback import MIC_FRAME, TICK, Clock, EchoingSink, EchoPath, room_response, speech
from tests.realtime.helpers import pcm16
from tests.transports.harness import Events
from theo_rtc.agent import AgentOptions, LLMEndpoint
from theo_rtc.config import TheoSettings
from theo_rtc.preprocessing import float_to_pcm16
from theo_rtc.runtime import TheoRuntime
from theo_rtc.session import SessionConfig
from theo_rtc.transports import Call, SessionRegistry
from theo_rtc.transports.protocol import TheoDialect

pytest.importorskip("livekit.rtc", reason="the echo canceller runs livekit.rtc's APM")
pytest.importorskip("theo_plugin_piper", reason="optional GPL plugin not installed")

LIBRIVOX = EVAL_ROOT / "librivox_pocketsphinx_en"
FIRST = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0870.wav"
SECOND = LIBRIVOX / "goforward.wav"
ANSWER = (
    "Let me tell you about our menu today. We have fresh pasta, three salads and two soups. "
    "The desserts are all made in house every morning by our chef. The coffee is roasted just down "
    "the street, and on Fridays there is live music in the garden until late."
)
PIPER_RATE = 22_050
ECHO_S = 4.0  # of the answer heard back through the room before the caller talks


@pytest.fixture(scope="module")
async def runtime(theo_home: Path) -> AsyncIterator[TheoRuntime]:
    async with TheoRuntime(TheoSettings(home=theo_home)) as rt:
        yield rt


class Loudspeaker:
    """One call whose caller listens on a loudspeaker: the sink plays only when the test ticks."""

    def __init__(self, call: Call, events: Events, sink: EchoingSink, clock: Clock) -> None:
        self.call, self.events, self.sink, self.clock = call, events, sink, clock
        self.room = EchoPath(room_response(120), PIPER_RATE)
        self.ticks = 0

    @classmethod
    async def open(cls, runtime: TheoRuntime, llm: ScriptedLLM, **agent: Any) -> Loudspeaker:
        events, clock = Events(), Clock()
        sink = EchoingSink(events, clock)
        config = SessionConfig(model="whisper-tiny.en", tts_model="piper-en-joe", partials=False)
        options = AgentOptions(llm=LLMEndpoint(llm.base_url, "scripted"), **agent)
        call = Call(runtime, SessionRegistry(4), TheoDialect(), events, config, sink=sink, agent=options)
        call.reserve()
        await call.open()
        return cls(call, events, sink, clock)

    def say(self, path: Path, silence_s: float = 1.5) -> None:
        """The caller's first turn, before anything plays (no echo)."""
        data, _ = pcm16(path, 16_000)
        audio = data + bytes(int(32_000 * silence_s))
        for i in range(0, len(audio), 2 * MIC_FRAME):
            self.call.push_pcm16(audio[i : i + 2 * MIC_FRAME], max_frame=65536)

    async def tick(self, caller: np.ndarray | None = None) -> None:
        """20 ms: the loudspeaker plays what the sink has queued (if the agent is speaking), the clock
        moves on, the microphone's 20 ms (echo + caller) go in, and the session handles them."""
        speaker = self.call.speaker
        assert speaker is not None
        await self.sink.until(lambda: self.sink.queued_s >= TICK - 1e-6 or not speaker.speaking)
        played = self.sink.play_tick() if speaker.speaking else None
        if played is not None:
            assert played[1] == PIPER_RATE
        self.clock.advance(TICK)
        mic = self.room.tick(played[0] if played is not None else None)
        if caller is not None:
            mic = mic + caller[: len(mic)]
        self.call.push_pcm16(float_to_pcm16(mic), max_frame=65536)
        self.ticks += 1
        await self.call.session._drain_input()
        await self.call.session.deliver("test.tick")  # every event of this audio has reached the agent

    def since_speaking(self, kind: str) -> list[dict[str, Any]]:
        start = next(i for i, e in enumerate(self.events.events) if e["type"] == "tts.speaking_start")
        return [e for e in self.events.events[start:] if e["type"] == kind]


async def test_theo_does_not_interrupt_itself_but_the_caller_does(runtime: TheoRuntime) -> None:
    with ScriptedLLM([Reply(ANSWER), Reply("Okay, the soup it is.")]) as llm:
        line = await Loudspeaker.open(runtime, llm)
        assert line.call.echo is not None, "barge-in over a sink that reports playout: echo cancellation on"
        line.say(FIRST)
        await line.events.wait_for("tts.speaking_start")
        assert not line.call.session.input_gate.closed, "barge-in keeps the microphone open"

        for _ in range(int(ECHO_S / TICK)):  # Theo's voice comes back through the room
            await line.tick()
        assert line.call.speaker is not None and line.call.speaker.speaking
        assert line.since_speaking("vad.speech_start") == [], "Theo's own voice was taken for the caller"
        assert not line.events.of("agent.interrupted")
        stats = line.call.echo.stats
        assert stats.processed_s >= ECHO_S - 0.1 and stats.reduction_db is not None
        print(f"echo removed while Theo spoke: {stats.reduction_db} dB ({stats})")

        caller = speech(SECOND)
        start = line.ticks
        while not line.since_speaking("vad.speech_start"):  # the caller talks over Theo
            offset = (line.ticks - start) * MIC_FRAME
            assert offset < len(caller), "the caller's speech over Theo was never heard"
            await line.tick(caller[offset : offset + MIC_FRAME])
        heard_after_s = (line.ticks - start) * TICK
        played_ms = round(line.sink.heard_s * 1000)
        interrupted = await line.events.wait_for("agent.interrupted")
        assert interrupted["played_ms"] == played_ms >= ECHO_S * 1000
        print(f"the caller's speech (0.5 s of silence first) heard {heard_after_s:.2f} s in")
        assert heard_after_s < 1.5, heard_after_s

        # the rest of what the caller says, and the silence after: its final is what was said over Theo
        offset = (line.ticks - start) * MIC_FRAME
        rest = np.concatenate([caller[offset:], np.zeros(int(1.5 / TICK) * MIC_FRAME, np.float32)])
        for i in range(0, len(rest) - MIC_FRAME + 1, MIC_FRAME):
            await line.tick(rest[i : i + MIC_FRAME])
        final = await line.events.wait_for("transcript.final", 2)
        assert "forward" in normalize(final["text"]), final
        await line.call.close()
        assert line.sink._taps == [], "the canceller left the sink with the agent"


async def test_without_echo_cancellation_the_echo_interrupts_the_answer(runtime: TheoRuntime) -> None:
    with ScriptedLLM([Reply(ANSWER)], default=Reply("Sorry?")) as llm:
        line = await Loudspeaker.open(runtime, llm, echo_cancellation=False)
        assert line.call.echo is None
        line.say(FIRST)
        await line.events.wait_for("tts.speaking_start")
        while not line.since_speaking("vad.speech_start"):
            assert line.ticks * TICK < ECHO_S, "the echo never reached the VAD"
            await line.tick()
        interrupted = await line.events.wait_for("agent.interrupted")
        print(f"Theo interrupted itself after {interrupted['played_ms']} ms")
        assert interrupted["played_ms"] < 1500, "Theo interrupted itself within its first words"
        await asyncio.wait_for(line.call.close(), 60)
