"""Rate conversion with soxr (high quality, streaming-capable)."""

from __future__ import annotations

import numpy as np
import soxr

from theo_rtc.backends.types import AudioArray


class Resampler:
    """Converts to ``target_rate``; keeps filter state between calls so frames can be fed one at a time."""

    def __init__(self, source_rate: int, target_rate: int) -> None:
        self.source_rate = source_rate
        self.target_rate = target_rate
        self._stream = (
            None
            if source_rate == target_rate
            else soxr.ResampleStream(source_rate, target_rate, 1, "float32", "HQ")
        )

    def process(self, samples: AudioArray, *, last: bool = False) -> AudioArray:
        if self._stream is None:
            return samples
        out: AudioArray = self._stream.resample_chunk(samples, last=last)
        return out

    @staticmethod
    def oneshot(samples: AudioArray, source_rate: int, target_rate: int) -> AudioArray:
        if source_rate == target_rate:
            return samples
        out: AudioArray = soxr.resample(samples, source_rate, target_rate, "HQ").astype(
            np.float32, copy=False
        )
        return out
