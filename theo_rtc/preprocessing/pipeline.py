"""Audio preprocessing pipeline (seed §4.9): any input → 16 kHz mono float32, DC removed, normalised."""

from __future__ import annotations

import numpy as np

from theo_rtc.backends.types import STT_SAMPLE_RATE, AudioArray
from theo_rtc.config import PreprocessingSettings
from theo_rtc.preprocessing.dc_remove import DCRemover
from theo_rtc.preprocessing.decode import DecodedAudio
from theo_rtc.preprocessing.gain_normalize import GainNormalizer
from theo_rtc.preprocessing.resample import Resampler


def preprocess(audio: DecodedAudio, settings: PreprocessingSettings | None = None) -> AudioArray:
    """Whole-recording preprocessing for batch requests."""
    settings = settings or PreprocessingSettings()
    samples = Resampler.oneshot(audio.samples, audio.sample_rate, STT_SAMPLE_RATE)
    if settings.dc_remove:
        samples = DCRemover(STT_SAMPLE_RATE, settings.highpass_hz).process(samples)
    if settings.gain_normalize:
        samples = GainNormalizer(settings.target_peak_dbfs).process(samples)
    return np.ascontiguousarray(samples, dtype=np.float32)


class StreamPreprocessor:
    """Frame-by-frame preprocessing for live streams; every stage keeps its state between frames."""

    def __init__(self, source_rate: int, settings: PreprocessingSettings | None = None) -> None:
        self.settings = settings or PreprocessingSettings()
        self.source_rate = source_rate
        self._resampler = Resampler(source_rate, STT_SAMPLE_RATE)
        self._dc = DCRemover(STT_SAMPLE_RATE, self.settings.highpass_hz) if self.settings.dc_remove else None
        self._gain = GainNormalizer(self.settings.target_peak_dbfs) if self.settings.gain_normalize else None

    def process(self, samples: AudioArray, *, last: bool = False) -> AudioArray:
        out = self._resampler.process(samples, last=last)
        if self._dc is not None:
            out = self._dc.process(out)
        if self._gain is not None:
            out = self._gain.process_frame(out, STT_SAMPLE_RATE)
        return out


def pcm16_to_float(data: bytes) -> AudioArray:
    return (np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0).astype(np.float32, copy=False)


def float_to_pcm16(samples: AudioArray) -> bytes:
    clipped = np.clip(samples, -1.0, 1.0)
    return bytes((clipped * 32767.0).astype("<i2").tobytes())
