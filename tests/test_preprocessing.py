"""Decoding every common container, resampling any rate/channel count, DC removal, gain normalisation."""

from __future__ import annotations

import numpy as np
import pytest

from bench.evalsets import EVAL_ROOT, load_set
from tests.audio_factory import FORMATS, encode, speech
from theo_rtc.config import PreprocessingSettings
from theo_rtc.preprocessing import StreamPreprocessor, decode_audio, preprocess

GOFORWARD = EVAL_ROOT / "librivox_pocketsphinx_en" / "goforward.wav"


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize(("rate", "channels"), [(8000, 1), (22050, 2), (48000, 1)])
def test_every_container_decodes_to_16k_mono(fmt: str, rate: int, channels: int) -> None:
    samples, source_rate = speech(GOFORWARD)
    import soxr

    at_rate = soxr.resample(samples, source_rate, rate).astype(np.float32)
    data = encode(at_rate, rate, fmt, channels=channels)
    decoded = decode_audio(data)
    assert decoded.source_channels == channels
    out = preprocess(decoded)
    assert out.dtype == np.float32
    # Lossy codecs pad the edges: Opus/MP3 a few ms, AAC up to two 1024-sample frames of encoder delay
    # (the m4a muxer's edit list is not applied on decode). The duration must otherwise match the source.
    slack = 2048 / rate + 0.02 if fmt == "m4a" else 0.08
    assert len(out) / 16000 == pytest.approx(len(samples) / source_rate, abs=slack)
    assert float(np.max(np.abs(out))) == pytest.approx(10 ** (-3 / 20), abs=0.01)


def test_stereo_44k_flac_from_eval_set() -> None:
    jfk = load_set("jfk_en")[0]
    decoded = decode_audio(jfk.path.read_bytes())
    assert (decoded.sample_rate, decoded.source_channels) == (44100, 2)
    assert decoded.duration == pytest.approx(jfk.duration, abs=0.01)
    assert len(preprocess(decoded)) == pytest.approx(jfk.duration * 16000, abs=16)


def test_dc_offset_is_removed_on_lapsbm() -> None:
    utt = next(u for u in load_set("falabrasil_ptbr") if u.id.startswith("LapsBM"))
    decoded = decode_audio(utt.path)
    assert abs(float(np.mean(decoded.samples))) > 0.05  # the recording carries a strong DC offset
    cleaned = preprocess(decoded, PreprocessingSettings(gain_normalize=False))
    assert abs(float(np.mean(cleaned[16000:]))) < 0.005


def test_stages_can_be_switched_off() -> None:
    decoded = decode_audio(GOFORWARD)
    raw = preprocess(decoded, PreprocessingSettings(dc_remove=False, gain_normalize=False))
    np.testing.assert_allclose(raw, decoded.samples, atol=1e-6)  # 16 kHz in: resampling is the identity
    assert float(np.max(np.abs(preprocess(decoded)))) == pytest.approx(10 ** (-3 / 20), abs=1e-3)


def test_silence_is_not_amplified() -> None:
    quiet = np.full(16000, 1e-6, dtype=np.float32)
    decoded = decode_audio(encode(quiet, 16000, "wav"))
    assert float(np.max(np.abs(preprocess(decoded)))) < 1e-3


def test_streaming_preprocessor_matches_batch_length_and_level() -> None:
    samples, rate = speech(load_set("ljspeech_en")[0].path)  # 22.05 kHz
    stream = StreamPreprocessor(rate)
    frame = rate // 50  # 20 ms frames
    pieces = [stream.process(samples[i : i + frame]) for i in range(0, len(samples), frame)]
    pieces.append(stream.process(np.zeros(0, dtype=np.float32), last=True))
    out = np.concatenate(pieces)
    assert len(out) == pytest.approx(len(samples) * 16000 / rate, abs=2)
    assert float(np.max(np.abs(out))) <= 1.0
    assert float(np.max(np.abs(out))) > 0.5  # normalised towards -3 dBFS as the running peak settles
