"""Peak normalisation to a target dBFS (−3 dBFS by default)."""

from __future__ import annotations

import numpy as np

from theo_rtc.backends.types import AudioArray

_SILENCE_PEAK = 1e-4  # below this (−80 dBFS) there is nothing to normalise: don't amplify noise floor


class GainNormalizer:
    """Batch: scales the whole signal so its peak sits at the target.

    Streaming: follows a running peak that rises instantly and decays slowly (10 %/s: faster decay lifts
    the tail of each utterance and delays VAD end-of-speech by hundreds of ms), so the gain never jumps
    up mid-word and never clips.
    """

    def __init__(
        self, target_dbfs: float = -3.0, *, max_gain_db: float = 30.0, decay_per_second: float = 0.9
    ) -> None:
        self.target = float(10 ** (target_dbfs / 20))
        self.max_gain = float(10 ** (max_gain_db / 20))
        self._decay = decay_per_second
        self._running_peak = 0.0

    def process(self, samples: AudioArray) -> AudioArray:
        peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
        if peak < _SILENCE_PEAK:
            return samples
        gain = min(self.target / peak, self.max_gain)
        result: AudioArray = (samples * gain).astype(np.float32, copy=False)
        return result

    def process_frame(self, samples: AudioArray, sample_rate: int) -> AudioArray:
        peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
        decay = self._decay ** (len(samples) / sample_rate)
        self._running_peak = max(peak, self._running_peak * decay)
        if self._running_peak < _SILENCE_PEAK:
            return samples
        gain = min(self.target / self._running_peak, self.max_gain)
        result: AudioArray = np.clip(samples * gain, -1.0, 1.0).astype(np.float32, copy=False)
        return result
