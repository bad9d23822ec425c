"""LiveKit's own OpenAI plugin against Theo: ``openai.STT(use_realtime=True)`` with its default model.

livekit-plugins-openai 1.8.9 connects to ``/v1/realtime?intent=transcription&model=gpt-4o-mini-transcribe``
(it puts the model in the URL for anything but api.openai.com) and sends a GA ``session.update`` with
server VAD; an ``error`` event would end its stream. Real speech at real time, scored by WER.
"""

from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import AsyncIterator

import numpy as np
import pytest

from bench.evalsets import load_set, wer
from tests.conftest import RunningServer

openai_plugin = pytest.importorskip("livekit.plugins.openai")
from livekit import rtc  # noqa: E402
from livekit.agents import stt, utils  # noqa: E402

FRAME_MS = 20


@pytest.fixture(autouse=True)
async def job_http_context() -> AsyncIterator[None]:
    """What a livekit job process provides: the shared aiohttp session of ``utils.http_context``."""
    async with utils.http_context.open():
        yield


def frames_of(path: str, tail_silence_s: float) -> list[rtc.AudioFrame]:
    with wave.open(path) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        rate, pcm = w.getframerate(), w.readframes(w.getnframes())
    samples = np.concatenate(
        [np.frombuffer(pcm, dtype=np.int16), np.zeros(int(rate * tail_silence_s), np.int16)]
    )
    n = rate * FRAME_MS // 1000
    return [
        rtc.AudioFrame(samples[i : i + n].tobytes(), rate, 1, len(samples[i : i + n]))
        for i in range(0, len(samples), n)
    ]


async def test_realtime_stt_with_its_default_model(server: RunningServer) -> None:
    utt = load_set("librivox_pocketsphinx_en")[0]
    recognizer = openai_plugin.STT(use_realtime=True, base_url=f"{server.url}/v1", api_key="unused")
    assert recognizer.model == "gpt-4o-mini-transcribe" and recognizer.capabilities.streaming
    errors: list[object] = []
    recognizer.on("error", errors.append)
    stream = recognizer.stream()
    finals: list[str] = []
    kinds: list[stt.SpeechEventType] = []
    turns_done = asyncio.Event()  # each turn ended (speech_stopped) and its final followed

    async def read() -> None:
        async for event in stream:
            kinds.append(event.type)
            if event.type == stt.SpeechEventType.FINAL_TRANSCRIPT and event.alternatives[0].text.strip():
                finals.append(event.alternatives[0].text)
            starts = kinds.count(stt.SpeechEventType.START_OF_SPEECH)
            ends = kinds.count(stt.SpeechEventType.END_OF_SPEECH)
            if 0 < starts == ends <= kinds.count(stt.SpeechEventType.FINAL_TRANSCRIPT):
                turns_done.set()
            else:
                turns_done.clear()

    reader = asyncio.create_task(read())
    try:
        started = time.monotonic()
        pushed = 0.0
        for frame in frames_of(str(utt.path), tail_silence_s=1.5):  # at real time, as a room track
            stream.push_frame(frame)
            pushed += frame.duration
            await asyncio.sleep(max(0.0, started + pushed - time.monotonic()))
        await asyncio.wait_for(turns_done.wait(), 30)
        stream.end_input()
    finally:
        await stream.aclose()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await recognizer.aclose()
    assert not errors, errors
    assert stt.SpeechEventType.START_OF_SPEECH in kinds and stt.SpeechEventType.INTERIM_TRANSCRIPT in kinds
    assert wer([utt.text], [" ".join(finals)]) <= 0.15, finals
