"""Each TTS engine really synthesizes: voices, streaming chunks, speed, Portuguese, bad input."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from theo_rtc.backends.discovery import available_engines
from theo_rtc.backends.tts import TTSBackend
from theo_rtc.backends.types import AudioChunk
from theo_rtc.tts.voices import UnknownVoiceError

ENGLISH = (
    "Hello there! This is Theo, a self-hosted realtime voice runtime. It streams one sentence at a time."
)
PORTUGUESE = "Olá, tudo bem? Este é um teste de síntese de voz em português do Brasil."


async def synth(
    backend: TTSBackend, text: str, voice: str, *, speed: float = 1.0, language: str | None = None
) -> list[AudioChunk]:
    return [c async for c in backend.synthesize(text, voice, speed=speed, language=language)]


def seconds(chunks: list[AudioChunk]) -> float:
    return sum(c.duration for c in chunks)


def rms(chunks: list[AudioChunk]) -> float:
    samples = np.frombuffer(b"".join(c.pcm16 for c in chunks), dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


@pytest.fixture(params=["kokoro", "piper", "espeak"])
def backend(request: pytest.FixtureRequest) -> TTSBackend:
    engine: TTSBackend = request.getfixturevalue(request.param)
    return engine


def test_entry_points_registered() -> None:
    assert {"kokoro", "espeak-ng"} <= set(available_engines("tts"))


async def test_voices_have_languages(backend: TTSBackend) -> None:
    voices = await backend.voices()
    assert voices
    assert all(v.id and v.language for v in voices)


async def test_streams_a_chunk_per_sentence(backend: TTSBackend) -> None:
    chunks = await synth(backend, ENGLISH, "alloy")
    assert len(chunks) >= 3
    assert all(c.sample_rate == backend.sample_rate and len(c.pcm16) % 2 == 0 for c in chunks)
    assert 3.0 < seconds(chunks) < 15.0
    assert rms(chunks) > 300  # speech, not silence


async def test_speed(backend: TTSBackend) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    normal = seconds(await synth(backend, text, "echo"))
    fast = seconds(await synth(backend, text, "echo", speed=2.0))
    slow = seconds(await synth(backend, text, "echo", speed=0.5))
    assert fast < 0.75 * normal < normal < 0.75 * slow


async def test_native_voice_names(backend: TTSBackend) -> None:
    voice = (await backend.voices())[0].id
    assert seconds(await synth(backend, "Good morning.", voice)) > 0.3


async def test_unknown_voice(backend: TTSBackend) -> None:
    with pytest.raises(UnknownVoiceError):
        await synth(backend, "Hello.", "definitely-not-a-voice")


@pytest.mark.parametrize(
    "text",
    [
        "😀🎉🔥",
        "<speak><break time='1s'/></speak>",
        "\x00\x01\x02\x1b",
        "... --- !!!",
        "",
    ],
)
async def test_nothing_speakable_gives_no_audio(backend: TTSBackend, text: str) -> None:
    assert await synth(backend, text, "alloy") == []


async def test_hostile_input_is_spoken_safely(backend: TTSBackend) -> None:
    text = "<speak>Hello <prosody rate='x-fast'>world</prosody></speak> 🎉 \x07 -- --help &amp; bye."
    chunks = await synth(backend, text, "nova")
    assert 0.5 < seconds(chunks) < 6.0


async def test_abandoned_stream_stops(backend: TTSBackend) -> None:
    stream = backend.synthesize(ENGLISH * 3, "alloy")
    first = await stream.__anext__()
    assert first.pcm16
    await stream.aclose()  # type: ignore[attr-defined]


async def test_concurrent_requests(backend: TTSBackend) -> None:
    results = await asyncio.gather(*(synth(backend, f"Request number {i}.", "alloy") for i in range(3)))
    assert all(seconds(r) > 0.5 for r in results)


# --- Portuguese -----------------------------------------------------------------------------------


@pytest.mark.parametrize("voice", ["pf_dora", "pm_alex"])
async def test_kokoro_portuguese_voices(kokoro: TTSBackend, voice: str) -> None:
    chunks = await synth(kokoro, PORTUGUESE, voice)
    assert len(chunks) >= 2 and 3.0 < seconds(chunks) < 10.0 and rms(chunks) > 300
    voices = {v.id: v for v in await kokoro.voices()}
    assert voices[voice].language == "pt-BR"


async def test_kokoro_openai_voice_picks_portuguese(kokoro: TTSBackend) -> None:
    pick = kokoro._pick  # type: ignore[attr-defined]
    assert pick("nova", None, PORTUGUESE) == ("pf_dora", "pt-br")
    assert pick("onyx", "pt-BR", "Hello") == ("pm_alex", "pt-br")
    assert pick("nova", None, ENGLISH) == ("af_nova", "en-us")
    assert pick("af_heart", "pt", "Olá") == ("af_heart", "pt-br")  # explicit language wins


async def test_espeak_portuguese_and_variants(espeak: TTSBackend) -> None:
    pick = espeak._pick  # type: ignore[attr-defined]
    assert pick("nova", None, PORTUGUESE) == "pt-br+f3"
    assert pick("onyx", "pt-BR", "x") == "pt-br"
    assert pick("pt-br+m3", None, "x") == "pt-br+m3"
    assert seconds(await synth(espeak, PORTUGUESE, "pt-br")) > 2.0


async def test_espeak_needs_no_model(espeak: TTSBackend) -> None:
    assert (await espeak.health()).status == "ok"
    ids = {v.id for v in await espeak.voices()}
    assert {"en-us", "pt-br"} <= ids
