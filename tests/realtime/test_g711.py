"""The conversation dialect's G.711 codec (OpenAI's audio/pcmu and audio/pcma) against the standard's
table values, and the quantisation error of a round trip."""

from __future__ import annotations

import numpy as np
import pytest

from theo_rtc.transports.protocol.openai_conversation.codec import FORMATS


def test_decoding_follows_the_g711_tables() -> None:
    ulaw, alaw = FORMATS["audio/pcmu"], FORMATS["audio/pcma"]
    decoded = np.frombuffer(ulaw.to_pcm16(bytes([0xFF, 0x7F, 0x00, 0x80])), "<i2").tolist()
    assert decoded == [0, 0, -32124, 32124]  # μ-law: 0xFF/0x7F are the two zeros, 0x00/0x80 full scale
    decoded = np.frombuffer(alaw.to_pcm16(bytes([0xD5, 0x55, 0x2A, 0xAA])), "<i2").tolist()
    assert decoded == [8, -8, -32256, 32256]  # A-law: the smallest steps and full scale


@pytest.mark.parametrize("kind", ["audio/pcmu", "audio/pcma"])
def test_a_round_trip_stays_within_one_quantisation_step(kind: str) -> None:
    fmt = FORMATS[kind]
    samples = np.concatenate([np.arange(-32768, 32768, 7), [-32768, 32767, 0]]).astype("<i2")
    encoded = fmt.from_pcm16(samples.tobytes())
    assert len(encoded) == len(samples)  # one byte a sample
    back = np.frombuffer(fmt.to_pcm16(encoded), "<i2").astype(np.int32)
    error = np.abs(back - samples.astype(np.int32))
    # the step grows with the magnitude (logarithmic companding): about 1/16 of it at most
    assert np.all(error <= np.maximum(16, np.abs(samples.astype(np.int32)) // 16 + 16))
    assert fmt.to_pcm16(fmt.from_pcm16(back.astype("<i2").tobytes())) == back.astype("<i2").tobytes()
