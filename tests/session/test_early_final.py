"""The early final (issue 13 §2): once a pause reaches the commit tail, the session asks the worker to decode
the utterance as its final would; the commit that follows, adding no audio, is answered with that decode
instead of a second one. Real whisper-tiny.en and LibriVox speech; audio goes in faster than real time and
every check is on what was decoded and emitted, not on how long it took."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client import REGISTRY
from theo_plugin_faster_whisper.backend import FasterWhisperBackend

from bench.multi_utterance import load_clips
from tests.session.test_endpointing import Collector, paused_mid_sentence
from theo_rtc.backends import StreamChunk, StreamHypothesis
from theo_rtc.config import TheoSettings
from theo_rtc.runtime import TheoRuntime
from theo_rtc.session import SessionConfig, StreamingSession

RATE = 16_000
SET = "librivox_pocketsphinx_en"


class CountingModel:
    """The real WhisperModel, counting its decodes."""

    def __init__(self, model: Any) -> None:
        self.model, self.decodes = model, 0

    def transcribe(self, *args: Any, **kwargs: Any) -> Any:
        self.decodes += 1
        return self.model.transcribe(*args, **kwargs)


@pytest.fixture(scope="module")
async def backend(theo_home: Path) -> AsyncIterator[FasterWhisperBackend]:
    engine = FasterWhisperBackend()
    await engine.load(theo_home / "models" / "whisper-tiny.en", {"beam_size": 5})
    yield engine
    await engine.unload()


@pytest.fixture
def counting(backend: FasterWhisperBackend) -> Iterator[CountingModel]:
    real = backend._model
    counter = CountingModel(real)
    backend._model = counter  # type: ignore[assignment]
    yield counter
    backend._model = real


async def run(backend: FasterWhisperBackend, *chunks: StreamChunk) -> list[StreamHypothesis]:
    async def source() -> AsyncIterator[StreamChunk]:
        for chunk in chunks:
            yield chunk

    return [h async for h in backend.transcribe_stream(source())]


def utterance() -> np.ndarray:
    return load_clips(SET, 1)[0].audio.astype(np.float32)


async def test_a_commit_adding_no_audio_reuses_the_prepared_decode(
    backend: FasterWhisperBackend, counting: CountingModel
) -> None:
    audio = utterance()
    prepared, final = await run(
        backend, StreamChunk(audio, prepare=True), StreamChunk(np.zeros(0, np.float32), commit=True)
    )
    assert counting.decodes == 1
    assert not prepared.is_final and final.is_final and final.prepared
    assert final.text == prepared.text and len(final.text.split()) >= 5


async def test_audio_after_the_prepare_means_a_fresh_decode(
    backend: FasterWhisperBackend, counting: CountingModel
) -> None:
    audio = utterance()
    half = len(audio) // 2
    prepared, final = await run(
        backend, StreamChunk(audio[:half], prepare=True), StreamChunk(audio[half:], commit=True)
    )
    assert counting.decodes == 2 and not final.prepared
    assert len(final.text.split()) > len(prepared.text.split())
    # a plain partial decode is never reused: it runs with a smaller beam
    counting.decodes = 0
    _, final = await run(
        backend, StreamChunk(audio, decode=True), StreamChunk(np.zeros(0, np.float32), commit=True)
    )
    assert counting.decodes == 2 and not final.prepared


def early_finals(outcome: str) -> float:
    return REGISTRY.get_sample_value("theo_stt_early_finals_total", {"outcome": outcome}) or 0.0


async def transcribe(runtime: TheoRuntime, audio: np.ndarray, **config: Any) -> Collector:
    """``audio`` through a session whose worker stream is up (before that, audio waits in the WAL and goes
    out as one replayed commit, which never has an early decode to reuse)."""
    output = Collector()
    session = StreamingSession(
        runtime, output, SessionConfig(model="whisper-tiny.en", partials=False, **config)
    )
    await session.start()
    async with asyncio.timeout(60):  # a hang guard
        await session._stream.connected.wait()
    for i in range(0, len(audio), 320):
        session.push_audio(audio[i : i + 320])
        await asyncio.sleep(0)  # the worker stream's messages interleave with the audio, as live
    await session._drain_input()
    await session._stream.finals_idle.wait()
    await session.close("end")
    return output


@pytest.fixture(scope="module")
async def runtime(theo_home: Path) -> AsyncIterator[TheoRuntime]:
    async with TheoRuntime(TheoSettings(home=theo_home)) as rt:
        yield rt


async def test_early_finals_are_the_finals_a_commit_would_decode(runtime: TheoRuntime) -> None:
    clips = load_clips(SET, 3)
    audio = np.concatenate(
        [np.concatenate([c.audio, np.zeros(RATE, np.float32)]) for c in clips] + [np.zeros(RATE, np.float32)]
    ).astype(np.float32)
    prepared, used = early_finals("prepared"), early_finals("used")
    early = await transcribe(runtime, audio, early_final=True)
    assert early_finals("used") - used == len(clips), "every turn's final came from its early decode"
    assert early_finals("prepared") - prepared >= len(clips)

    used = early_finals("used")
    late = await transcribe(runtime, audio, early_final=False)
    assert early_finals("used") == used
    texts = [e["text"] for e in early.of("transcript.final")]
    assert len(texts) == len(clips)
    assert texts == [e["text"] for e in late.of("transcript.final")]


async def test_a_pause_that_does_not_end_the_turn_wastes_one_decode_and_loses_nothing(
    runtime: TheoRuntime,
) -> None:
    # 300 ms of silence mid-sentence: past the 200 ms commit tail (an early decode is asked for), short of
    # min_silence_ms (the turn goes on, and that decode must not become the final)
    audio, text, _ = paused_mid_sentence(pause_s=0.3)
    prepared, used = early_finals("prepared"), early_finals("used")
    events = await transcribe(runtime, audio, early_final=True, min_silence_ms=400)
    finals = [e["text"] for e in events.of("transcript.final")]
    assert len(finals) == 1, finals
    assert early_finals("prepared") - prepared == 2, "one in the pause, one at the end"
    assert early_finals("used") - used == 1
    reference = text.lower().split()
    assert finals[0].lower().rstrip(".").split()[-2:] == reference[-2:], (finals, text)
