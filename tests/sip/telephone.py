"""Telephone-band speech for the SIP tests, made from the eval sets as ../shared/eval/README.md says:
band-limited to 300-3400 Hz, resampled to 8 kHz, G.711 µ-law, written as a µ-law WAV (format tag 7) that the
caller sends as it is (µ-law decodes and re-encodes to the same codes, so the RTP carries these bytes)."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import soxr
from scipy.signal import butter, sosfiltfilt

from theo_rtc.preprocessing import decode_audio

RATE = 8_000
BAND_HZ = (300.0, 3400.0)
WAVE_FORMAT_MULAW = 7


def _ulaw_decode_table() -> np.ndarray:
    """ITU-T G.711 µ-law: the linear value (16-bit scale) of each of the 256 codes."""
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign, exponent, mantissa = codes & 0x80, (codes >> 4) & 0x07, codes & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int32)


ULAW = _ulaw_decode_table()
_ORDER = np.argsort(ULAW, kind="stable")
_SORTED = ULAW[_ORDER]


def ulaw_encode(pcm16: np.ndarray) -> bytes:
    """Each sample to the code whose value is nearest (what a G.711 encoder does, up to rounding)."""
    samples = pcm16.astype(np.int32)
    index = np.clip(np.searchsorted(_SORTED, samples), 1, 255)
    nearer = np.where(samples - _SORTED[index - 1] < _SORTED[index] - samples, index - 1, index)
    return bytes(_ORDER[nearer].astype(np.uint8).tobytes())


def ulaw_decode(codes: bytes) -> np.ndarray:
    return ULAW[np.frombuffer(codes, np.uint8)].astype(np.int16)


def telephone_band(path: Path) -> np.ndarray:
    """The recording at 8 kHz, 300-3400 Hz, as PCM16 that survives a µ-law round trip unchanged."""
    decoded = decode_audio(path.read_bytes())
    samples = soxr.resample(decoded.samples, decoded.sample_rate, RATE).astype(np.float64)
    band = butter(6, BAND_HZ, btype="bandpass", fs=RATE, output="sos")
    filtered = sosfiltfilt(band, samples)
    peak = float(np.max(np.abs(filtered))) or 1.0
    pcm = np.asarray(np.clip(filtered / peak * 0.7, -1, 1) * 32767, dtype=np.int16)  # -3 dBFS peaks
    return ulaw_decode(ulaw_encode(pcm))


def write_ulaw_wav(path: Path, pcm16: np.ndarray, *, pad_s: float = 0.0) -> Path:
    """A mono 8 kHz µ-law WAV (``pad_s`` of silence after the speech)."""
    data = ulaw_encode(np.concatenate([pcm16, np.zeros(int(RATE * pad_s), np.int16)]))
    fmt = struct.pack("<HHIIHHH", WAVE_FORMAT_MULAW, 1, RATE, RATE, 1, 8, 0)
    fact = struct.pack("<I", len(data))
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"fact"
        + struct.pack("<I", len(fact))
        + fact
        + b"data"
        + struct.pack("<I", len(data))
        + data
        + (b"\0" if len(data) % 2 else b"")
    )
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def read_pcm_wav(path: Path) -> tuple[np.ndarray, int]:
    """What the caller recorded (PCM16 WAV from PJSUA): samples as float32 and the rate."""
    with wave.open(str(path)) as w:
        rate, frames = w.getframerate(), w.readframes(w.getnframes())
    return np.frombuffer(frames, np.int16).astype(np.float32) / 32768, rate
