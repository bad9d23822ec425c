"""Streaming encoders: every response_format decodes (PyAV) to the duration that went in."""

from __future__ import annotations

import io
import struct
from collections.abc import AsyncIterator

import av
import numpy as np
import pytest

from theo_rtc.backends.tts import TTSBackend
from theo_rtc.backends.types import AudioChunk
from theo_rtc.tts.encode import (
    CONTENT_TYPES,
    PCM_SAMPLE_RATE,
    RESPONSE_FORMATS,
    content_type,
    create_encoder,
    encode_all,
    encode_stream,
)

TOLERANCE = 0.05  # seconds
# ADTS cannot signal AAC encoder priming, so every decoder plays 1024 extra samples first.
AAC_PRIMING = 1024


def decoded_duration(fmt: str, data: bytes, input_rate: int) -> float:
    if fmt == "pcm":
        return len(data) / 2 / PCM_SAMPLE_RATE
    with av.open(io.BytesIO(data), mode="r") as container:
        samples, rate = 0, 0
        for frame in container.decode(audio=0):
            samples += frame.samples
            rate = frame.sample_rate
    assert rate > 0, f"{fmt}: no audio decoded"
    return samples / rate


def expected_duration(fmt: str, seconds: float, rate: int) -> float:
    return seconds + (AAC_PRIMING / rate if fmt == "aac" else 0.0)


def tone_chunks(rate: int, seconds: float, chunk: int = 4321) -> list[AudioChunk]:
    t = np.arange(round(rate * seconds)) / rate
    samples = (np.sin(2 * np.pi * 220 * t) * 8000).astype("<i2")
    return [AudioChunk(samples[i : i + chunk].tobytes(), rate) for i in range(0, samples.size, chunk)]


def test_content_types() -> None:
    assert set(CONTENT_TYPES) == set(RESPONSE_FORMATS) == {"mp3", "opus", "aac", "flac", "wav", "pcm"}
    assert content_type("mp3") == "audio/mpeg"
    assert content_type("wav") == "audio/wav"
    with pytest.raises(ValueError, match="response_format"):
        content_type("ogg")
    with pytest.raises(ValueError):
        create_encoder("xyz", 24000)


@pytest.mark.parametrize("rate", [24000, 22050])
@pytest.mark.parametrize("fmt", RESPONSE_FORMATS)
def test_tone_round_trip(fmt: str, rate: int) -> None:
    chunks = tone_chunks(rate, 2.5)
    data = encode_all(fmt, chunks)
    got = decoded_duration(fmt, data, rate)
    assert abs(got - expected_duration(fmt, 2.5, rate)) <= TOLERANCE, (fmt, rate, got)


@pytest.mark.parametrize("fmt", RESPONSE_FORMATS)
def test_bytes_flow_before_finish(fmt: str) -> None:
    """Streaming: the first 0.5 s of audio already produces bytes to send."""
    encoder = create_encoder(fmt, 24000)
    first = encoder.encode(tone_chunks(24000, 0.5, chunk=12000)[0].pcm16)
    assert len(first) > 0
    assert encoder.content_type == CONTENT_TYPES[fmt]
    encoder.finish()
    assert encoder.finish() == b""  # idempotent


def test_wav_header_is_streaming_pcm16() -> None:
    data = encode_all("wav", tone_chunks(22050, 0.2))
    assert data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt "
    fmt_tag, channels, rate, byte_rate, align, bits = struct.unpack("<HHIIHH", data[20:36])
    assert (fmt_tag, channels, rate, byte_rate, align, bits) == (1, 1, 22050, 44100, 2, 16)
    assert data[36:40] == b"data" and len(data) == 44 + round(22050 * 0.2) * 2


def test_pcm_is_resampled_to_24k_by_default() -> None:
    data = encode_all("pcm", tone_chunks(22050, 1.0))
    assert abs(len(data) / 2 / 24000 - 1.0) < 0.01
    same = encode_all("pcm", tone_chunks(22050, 1.0), output_rate=22050)
    assert len(same) == 22050 * 2


def test_opus_resamples_unsupported_rate() -> None:
    encoder = create_encoder("opus", 22050)
    assert encoder.output_rate == 24000


def test_odd_byte_count_rejected() -> None:
    with pytest.raises(ValueError, match="odd"):
        create_encoder("pcm", 24000).encode(b"\x00\x01\x02")


@pytest.mark.parametrize("fmt", RESPONSE_FORMATS)
async def test_encode_stream_empty_input(fmt: str) -> None:
    async def nothing() -> AsyncIterator[AudioChunk]:
        return
        yield  # pragma: no cover

    data = b"".join([part async for part in encode_stream(fmt, nothing())])
    if fmt == "pcm":
        assert data == b""
    elif fmt == "wav":
        assert len(data) == 44


@pytest.mark.parametrize("fmt", RESPONSE_FORMATS)
async def test_real_speech_every_format(fmt: str, espeak: TTSBackend, kokoro: TTSBackend) -> None:
    """Real engine output through encode_stream decodes to the synthesized duration."""
    for backend in (espeak, kokoro):
        text = "The quick brown fox jumps over the lazy dog. It was not amused!"
        chunks = [c async for c in backend.synthesize(text, "alloy")]
        seconds = sum(c.duration for c in chunks)
        rate = chunks[0].sample_rate

        async def replay(chunks: list[AudioChunk]) -> AsyncIterator[AudioChunk]:
            for c in chunks:
                yield c

        parts = [p async for p in encode_stream(fmt, replay(chunks))]
        assert all(parts)
        got = decoded_duration(fmt, b"".join(parts), rate)
        assert abs(got - expected_duration(fmt, seconds, rate)) <= TOLERANCE, (
            backend.engine,
            fmt,
            got,
            seconds,
        )
