"""Voice activity detection in the runtime (ADR-003): energy pre-filter + Silero, with hysteresis.

Feeds on 16 kHz float32 of any frame size; reports speech start/end as sample offsets in the stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from theo_rtc.backends.types import STT_SAMPLE_RATE, AudioArray
from theo_rtc.vad.energy import EnergyPreFilter
from theo_rtc.vad.silero import WINDOW, shared_model


class Sensitivity(StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


# (Silero threshold, energy pre-filter dBFS) from seed §4.8
SENSITIVITY = {
    Sensitivity.HIGH: (0.3, -50.0),
    Sensitivity.NORMAL: (0.5, -40.0),
    Sensitivity.LOW: (0.7, -30.0),
}


@dataclass(frozen=True, slots=True)
class VADEvent:
    kind: str  # "speech_start" | "speech_confirmed" | "speech_end"
    offset: int  # sample offset (16 kHz) in the stream where speech started / ended


class VoiceActivityDetector:
    def __init__(
        self,
        sensitivity: Sensitivity = Sensitivity.NORMAL,
        *,
        min_speech_ms: int = 96,
        min_silence_ms: int = 400,
        confirm_ms: int = 300,
        model_path: Path | None = None,
    ) -> None:
        """``confirm_ms``: voiced audio after which a speech region is *confirmed* (a cough or a click
        starts speech but is not confirmed; a barge-in waits for confirmation)."""
        threshold, energy_dbfs = SENSITIVITY[sensitivity]
        self.threshold = threshold
        self._negative_threshold = max(threshold - 0.15, 0.05)  # hysteresis: harder to leave speech
        self._prefilter = EnergyPreFilter(energy_dbfs)
        self._silero = shared_model(model_path).stream()
        self.window = WINDOW
        self._pending = np.zeros(self.window, dtype=np.float32)
        self._pending_len = 0
        self._offset = 0  # samples consumed so far
        self._min_speech = int(min_speech_ms * STT_SAMPLE_RATE / 1000)
        self._min_silence = int(min_silence_ms * STT_SAMPLE_RATE / 1000)
        self.speaking = False
        self._run_start: int | None = None  # start of the current candidate speech run
        self._silence_start: int | None = None
        self._confirm = int(confirm_ms * STT_SAMPLE_RATE / 1000)
        self._voiced = 0  # voiced samples in the current speech region
        self._confirmed = False
        self.silero_calls = 0
        self.prefiltered = 0

    def process(self, samples: AudioArray) -> list[VADEvent]:
        events: list[VADEvent] = []
        position = 0
        while position < len(samples):
            take = min(self.window - self._pending_len, len(samples) - position)
            self._pending[self._pending_len : self._pending_len + take] = samples[position : position + take]
            self._pending_len += take
            position += take
            if self._pending_len == self.window:
                event = self._step(self._pending)
                if event is not None:
                    events.append(event)
                self._pending_len = 0
        return events

    def probability(self, frame: AudioArray) -> float:
        if self._prefilter.is_silence(frame):
            self.prefiltered += 1
            # Silero is skipped: its state stays at the last voiced context; a silent gap need not change it.
            return 0.0
        self.silero_calls += 1
        return self._silero.probability(frame)

    def _step(self, frame: AudioArray) -> VADEvent | None:
        start = self._offset
        self._offset += len(frame)
        prob = self.probability(frame)
        if not self.speaking:
            if prob >= self.threshold:
                if self._run_start is None:
                    self._run_start = start
                if self._offset - self._run_start >= self._min_speech:
                    self.speaking = True
                    self._silence_start = None
                    self._voiced, self._confirmed = self._offset - self._run_start, False
                    return VADEvent("speech_start", self._run_start)
            else:
                self._run_start = None
            return None
        if prob < self._negative_threshold:
            if self._silence_start is None:
                self._silence_start = start
            if self._offset - self._silence_start >= self._min_silence:
                self.speaking = False
                self._run_start = None
                return VADEvent("speech_end", self._silence_start)
        else:
            self._silence_start = None
            self._voiced += len(frame)
            if not self._confirmed and self._voiced >= self._confirm:
                self._confirmed = True
                return VADEvent("speech_confirmed", self._offset)
        return None

    @property
    def trailing_silence(self) -> bool:
        """In speech, but the last frames were silent: the utterance may be ending."""
        return self.speaking and self._silence_start is not None

    @property
    def silence_start(self) -> int | None:
        """Where the trailing silence began (the offset ``speech_end`` will report if it lasts)."""
        return self._silence_start if self.speaking else None

    def flush(self) -> VADEvent | None:
        """End of stream: close an open speech region."""
        if self.speaking:
            self.speaking = False
            return VADEvent(
                "speech_end", self._silence_start if self._silence_start is not None else self._offset
            )
        return None

    def reset(self) -> None:
        self._silero.reset()
        self.speaking = False
        self._run_start = self._silence_start = None
