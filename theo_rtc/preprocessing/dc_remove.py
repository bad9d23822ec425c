"""DC offset removal: a 2nd-order Butterworth high-pass (20 Hz by default) with state across frames."""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfilt, sosfilt_zi

from theo_rtc.backends.types import AudioArray


class DCRemover:
    def __init__(self, sample_rate: int, cutoff_hz: float = 20.0) -> None:
        self._sos = butter(2, cutoff_hz, btype="highpass", fs=sample_rate, output="sos")
        self._zi: np.ndarray | None = None

    def process(self, samples: AudioArray) -> AudioArray:
        if len(samples) == 0:
            return samples
        if self._zi is None:
            # Start the filter settled on the first sample so a large offset (LapsBM: -0.13 FS) doesn't ring.
            self._zi = sosfilt_zi(self._sos) * samples[0]
        out, self._zi = sosfilt(self._sos, samples, zi=self._zi)
        result: AudioArray = out.astype(np.float32, copy=False)
        return result
