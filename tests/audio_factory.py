"""Make test audio in any container/codec with PyAV, from real speech or synthetic signals."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np

from theo_rtc.preprocessing import decode_audio

# container format, codec, file suffix
FORMATS = {
    "wav": ("wav", "pcm_s16le", ".wav"),
    "flac": ("flac", "flac", ".flac"),
    "mp3": ("mp3", "libmp3lame", ".mp3"),
    "ogg": ("ogg", "libopus", ".ogg"),
    "m4a": ("ipod", "aac", ".m4a"),
    "webm": ("webm", "libopus", ".webm"),
}


def encode(samples: np.ndarray, rate: int, fmt: str, *, channels: int = 1) -> bytes:
    """Encode mono float32 ``samples`` (duplicated to ``channels``) into ``fmt``."""
    container_name, codec, _ = FORMATS[fmt]
    buffer = io.BytesIO()
    out_rate = 48000 if codec == "libopus" and rate not in (8000, 12000, 16000, 24000, 48000) else rate
    with av.open(buffer, mode="w", format=container_name) as container:
        stream = container.add_stream(codec, rate=out_rate)
        stream.layout = "stereo" if channels == 2 else "mono"
        planar = np.tile(samples.astype(np.float32), (channels, 1))
        frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout=stream.layout.name)
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=stream.format.name, layout=stream.layout.name, rate=out_rate)
        for resampled in resampler.resample(frame):
            for packet in stream.encode(resampled):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def speech(path: Path) -> tuple[np.ndarray, int]:
    decoded = decode_audio(path.read_bytes())
    return decoded.samples, decoded.sample_rate
