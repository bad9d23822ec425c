"""Helpers of the agent tests: an in-process Call with the agent, real speech in, explicit playout."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from bench.evalsets import EVAL_ROOT
from tests.realtime.helpers import pcm16
from tests.transports.harness import Events, ListenerSink
from theo_rtc.agent import AgentOptions
from theo_rtc.runtime import TheoRuntime
from theo_rtc.session import SessionConfig
from theo_rtc.transports import Call, SessionRegistry
from theo_rtc.transports.protocol import TheoDialect

LIBRIVOX = EVAL_ROOT / "librivox_pocketsphinx_en"
FIRST = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0870.wav"
SECOND = LIBRIVOX / "goforward.wav"
FRAME = 640  # 20 ms of 16 kHz PCM16


class ManualTimer:
    """The filler delay's timer, driven by the test: a wait ends only when :meth:`fire` is called, so no
    filler plays unless the test says the delay has passed (no race with the machine's speed)."""

    def __init__(self) -> None:
        self.delays: list[float] = []  # every delay asked for, in order
        self.armed = asyncio.Event()
        self._pending: asyncio.Event | None = None

    async def wait(self, delay_s: float) -> None:
        self.delays.append(delay_s)
        self._pending = asyncio.Event()
        self.armed.set()
        await self._pending.wait()

    async def until_armed(self, count: int) -> None:
        async with asyncio.timeout(120):
            while len(self.delays) < count:
                self.armed.clear()
                await self.armed.wait()

    def fire(self) -> None:
        if self._pending is not None:
            self._pending.set()


async def open_call(runtime: TheoRuntime, options: AgentOptions) -> tuple[Call, Events, ListenerSink]:
    """A call with the agent; its filler timer is a :class:`ManualTimer` (``call.agent.fillers.wait``)."""
    events = Events()
    sink = ListenerSink(events)
    config = SessionConfig(model="whisper-tiny.en", tts_model="piper-en-joe", partials=False)
    call = Call(runtime, SessionRegistry(4), TheoDialect(), events, config, sink=sink, agent=options)
    call.reserve()
    await call.open()
    if call.agent is not None:
        call.agent.fillers.wait = ManualTimer().wait
    return call, events, sink


def timer_of(call: Call) -> ManualTimer:
    assert call.agent is not None
    timer = getattr(call.agent.fillers.wait, "__self__", None)
    assert isinstance(timer, ManualTimer)
    return timer


def say(call: Call, path: Path, silence_s: float = 1.5) -> None:
    speech, _ = pcm16(path, 16_000)
    audio = speech + bytes(int(32_000 * silence_s))
    for i in range(0, len(audio), FRAME):
        call.push_pcm16(audio[i : i + FRAME], max_frame=65536)


async def play_out(call: Call, sink: ListenerSink) -> None:
    """The listener hears everything the agent says until it stops speaking."""
    async with asyncio.timeout(120):
        while call.speaker is not None and (call.speaker.speaking or (call.agent and call.agent.responding)):
            sink.play(0.5)
            await asyncio.sleep(0.02)


async def until_state(events: Events, state: str, count: int = 1) -> dict[str, Any]:
    async with asyncio.timeout(120):
        while len(found := [e for e in events.of("agent.state") if e["state"] == state]) < count:
            await events.wait_for("agent.state", len(events.of("agent.state")) + 1)
    return found[count - 1]


def order(events: Events, *kinds: str) -> list[int]:
    return [next(i for i, e in enumerate(events.events) if e["type"] == k) for k in kinds]


class TheoSocket:
    """A Theo-protocol ``WS /v1/realtime`` client's reader: keeps every event and counts the TTS audio."""

    def __init__(self, ws: Any, within_s: float = 120) -> None:
        self.ws = ws
        self.within_s = within_s
        self.events: list[dict[str, Any]] = []
        self.audio_bytes = 0

    async def until(self, kind: str) -> dict[str, Any]:
        """Read until an event of ``kind`` arrives; returns it."""
        async with asyncio.timeout(self.within_s):
            while True:
                message = await self.ws.recv()
                if isinstance(message, bytes):
                    self.audio_bytes += len(message)
                    continue
                self.events.append(json.loads(message))
                if self.events[-1]["type"] == kind:
                    return self.events[-1]
