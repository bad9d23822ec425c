"""Helpers of the conversation-session tests: a scripted LLM whose reply can wait mid-answer on the test's
cue, a `theo serve` pointed at it, and an event reader for the openai SDK's realtime connection."""

from __future__ import annotations

import asyncio
import base64
import io
import threading
import wave
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.agent.scripted_llm import Reply, ScriptedLLM, Step, _sse
from tests.conftest import RunningServer, start_server

VOICE = "piper-en-joe"  # a local TTS model as the voice (OpenAI's names map to the default TTS model)


@dataclass(frozen=True)
class Held:
    """Stream ``first`` (a whole sentence, so it is spoken at once), then wait for the test's cue
    (:attr:`HeldLLM.release`) before ``rest``: a response that stays in progress exactly until the test
    says so. Only later tokens wait: the first-token deadline is not involved."""

    first: str
    rest: str


class HeldLLM(ScriptedLLM):
    def __init__(self, script: list[Step | Held], *, default: Step | None = None) -> None:
        super().__init__(script, default=default)  # type: ignore[arg-type]
        self.release = threading.Event()

    async def _events(self, model: str, step: Any) -> AsyncIterator[bytes]:
        if not isinstance(step, Held):
            async for chunk in super()._events(model, step):
                yield chunk
            return
        for i, word in enumerate(step.first.split(" ")):
            yield _sse(model, {"content": word if i == 0 else " " + word}, None)
        yield _sse(model, {"content": " "}, None)  # the sentence is complete: the chunker lets it go
        await asyncio.to_thread(self.release.wait, 120)
        for word in step.rest.split(" "):
            yield _sse(model, {"content": " " + word}, None)
        yield _sse(model, {}, "stop")
        yield b"data: [DONE]\n\n"

    def __enter__(self) -> HeldLLM:
        super().__enter__()
        return self

    def queue(self, *steps: Step | Held) -> None:
        """The next requests' steps, in order (any left from an earlier test are dropped)."""
        self.script[:] = list(steps)  # type: ignore[arg-type]  # Held steps are this subclass's own

    def system_prompt(self, index: int = -1) -> str:
        return str(self.requests[index]["messages"][0]["content"])


class Reader:
    """Reads a realtime connection's events, keeps them all, and decodes the assistant's audio per item."""

    def __init__(self, connection: Any, within_s: float = 120) -> None:
        self.connection = connection
        self.within_s = within_s
        self.events: list[Any] = []
        self.audio: dict[str, bytearray] = {}

    async def until(self, kind: str, check: Any = None) -> Any:
        """Read until an event of ``kind`` (for which ``check(event)`` holds) arrives; returns it."""
        async with asyncio.timeout(self.within_s):
            while True:
                event = await self.connection.recv()
                self.events.append(event)
                if event.type in ("response.output_audio.delta", "response.audio.delta"):
                    self.audio.setdefault(event.item_id, bytearray()).extend(base64.b64decode(event.delta))
                if event.type == kind and (check is None or check(event)):
                    return event

    def of(self, kind: str) -> list[Any]:
        return [e for e in self.events if e.type == kind]

    def types(self) -> list[str]:
        return [e.type for e in self.events]


def wav(pcm16: bytes, rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm16)
    return buffer.getvalue()


__all__ = ["VOICE", "Held", "HeldLLM", "Reader", "Reply", "conversation_server", "llm", "wav"]


@pytest.fixture(scope="module")
def llm() -> Iterator[HeldLLM]:
    with HeldLLM([], default=Reply("Sorry, say that again?")) as scripted:
        yield scripted


@pytest.fixture(scope="module")
def conversation_server(
    theo_home: Path, tmp_path_factory: pytest.TempPathFactory, llm: HeldLLM
) -> Iterator[RunningServer]:
    running = start_server(
        theo_home,
        tmp_path_factory.mktemp("conversation-server") / "server.log",
        preload=("whisper-tiny.en", VOICE),
        env={"THEO_AGENT_LLM_BASE_URL": llm.base_url, "THEO_AGENT_LLM_MODEL": "scripted"},
    )
    yield running
    running.stop()
