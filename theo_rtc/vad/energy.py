"""Energy pre-filter (seed §4.8): skip Silero on frames that are plainly silence or flat noise."""

from __future__ import annotations

import numpy as np

from theo_rtc.backends.types import AudioArray


class EnergyPreFilter:
    """A frame is silence when it is quieter than ``threshold_dbfs`` or its spectrum is noise-flat."""

    def __init__(self, threshold_dbfs: float, flatness_threshold: float = 0.8) -> None:
        self.threshold = float(10 ** (threshold_dbfs / 20))
        self.flatness_threshold = flatness_threshold

    def is_silence(self, frame: AudioArray) -> bool:
        rms = float(np.sqrt(np.mean(frame.astype(np.float64) ** 2))) if len(frame) else 0.0
        if rms < self.threshold:
            return True
        spectrum = np.abs(np.fft.rfft(frame)) + 1e-10
        flatness = float(np.exp(np.mean(np.log(spectrum))) / np.mean(spectrum))
        return flatness > self.flatness_threshold
