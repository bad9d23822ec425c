"""livekit-agents' OpenAI speech-to-speech model, unmodified, against Theo: ``openai.realtime.RealtimeModel(
base_url=Theo)`` as the LLM of an ``AgentSession`` with custom audio I/O and no LiveKit server. The plugin's
own defaults (semantic VAD, gpt-4o-mini-transcribe, noise reduction, tracing fields) go to Theo's
conversation dialect; a LibriVox recording goes in, the scripted LLM's answer comes out as Piper's voice."""

from __future__ import annotations

import asyncio
from typing import Any

from livekit import rtc
from livekit.agents import Agent, AgentSession
from livekit.agents.voice.io import AudioInput, AudioOutput, AudioOutputCapabilities
from livekit.plugins import openai as lk_openai

from bench.evalsets import normalize, wer
from tests.conftest import RunningServer
from tests.realtime.conversation_helpers import VOICE, HeldLLM, Reply, conversation_server, llm
from tests.realtime.helpers import pcm16
from tests.realtime.test_openai_conversation import ANSWER, SPEECH, heard

__all__ = ["conversation_server", "llm"]  # the fixtures

RATE = 24_000
FRAME = RATE // 50  # 20 ms


class RecordingInput(AudioInput):
    """A microphone that says one recording, then stays open (and silent to the agent: no more frames)."""

    def __init__(self, pcm: bytes) -> None:
        super().__init__(label="recording")
        self._frames = [pcm[i : i + FRAME * 2] for i in range(0, len(pcm), FRAME * 2)]

    async def __anext__(self) -> rtc.AudioFrame:
        if not self._frames:
            await asyncio.Event().wait()  # the call goes on; nothing more is said
        data = self._frames.pop(0)
        await asyncio.sleep(0)
        return rtc.AudioFrame(data, RATE, 1, len(data) // 2)


class RecordingOutput(AudioOutput):
    """A loudspeaker that records what it is given and reports each segment played at once."""

    def __init__(self) -> None:
        super().__init__(
            label="recording", capabilities=AudioOutputCapabilities(pause=False), sample_rate=RATE
        )
        self.audio = bytearray()
        self._segment_s = 0.0

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        self.audio += bytes(frame.data.cast("B"))
        self._segment_s += frame.samples_per_channel / frame.sample_rate

    def flush(self) -> None:
        super().flush()
        self.on_playback_finished(playback_position=self._segment_s, interrupted=False)
        self._segment_s = 0.0

    def clear_buffer(self) -> None:
        self.on_playback_finished(playback_position=self._segment_s, interrupted=True)
        self._segment_s = 0.0


async def test_a_livekit_agent_session_with_the_realtime_model(
    conversation_server: RunningServer, llm: HeldLLM
) -> None:
    llm.queue(Reply(ANSWER))
    asked = len(llm.requests)
    speech, _ = pcm16(SPEECH, RATE)
    model = lk_openai.realtime.RealtimeModel(
        base_url=f"{conversation_server.url}/v1", api_key="unused", model="gpt-realtime", voice=VOICE
    )
    session: AgentSession[Any] = AgentSession(llm=model)
    session.input.audio = RecordingInput(speech + bytes(RATE * 2 * 3))
    speaker = RecordingOutput()
    session.output.audio = speaker
    items: list[Any] = []
    errors: list[Any] = []
    answered = asyncio.Event()

    def on_item(event: Any) -> None:
        items.append(event.item)
        if getattr(event.item, "role", None) == "assistant":
            answered.set()

    session.on("conversation_item_added", on_item)
    session.on("error", errors.append)
    await session.start(Agent(instructions="You are a LiveKit test."))
    try:
        async with asyncio.timeout(120):
            await answered.wait()
    finally:
        await session.aclose()
    assert not errors, errors
    user = next(i for i in items if getattr(i, "role", None) == "user")
    assistant = next(i for i in items if getattr(i, "role", None) == "assistant")
    assert "forward" in normalize(user.text_content)
    assert assistant.text_content == ANSWER
    request = llm.requests[asked]["messages"]
    assert request[0] == {"role": "system", "content": "You are a LiveKit test."}
    assert "forward" in normalize(request[-1]["content"])
    assert len(speaker.audio) / 2 / RATE > 2.0
    assert wer([ANSWER], [await heard(conversation_server, bytes(speaker.audio), RATE)]) <= 0.2
