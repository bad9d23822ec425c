"""Smart Turn v3.2 (BSD-2, Daily; 8.7 MB ONNX): is the caller done speaking, or only pausing?

Silence alone cannot tell "my CPF is 123… 456… 789" (pauses of a second mid-turn) from "That's it." (a
finished turn that should be answered at once). The model reads the last 8 s of the utterance's audio
(prosody: a falling pitch, a trailing "and…") and says how likely the turn is complete. It takes
Whisper-style log-mel features (80 bins, 10 ms hop), computed here with numpy.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import onnxruntime as ort

from theo_rtc.backends.types import STT_SAMPLE_RATE, AudioArray

__all__ = ["MODEL_FILE", "MODEL_NAME", "SmartTurn", "log_mel", "shared_smart_turn"]

MODEL_NAME = "smart-turn-v3.2"  # in the model catalog
MODEL_FILE = "smart-turn-v3.2-cpu.onnx"
WINDOW_S = 8  # the model's input: the last 8 s, zero-padded in front when shorter
_N_FFT = 400  # 25 ms
_HOP = 160  # 10 ms
_N_MELS = 80


@functools.cache
def _mel_filters() -> np.ndarray:
    """(n_mels, 1 + n_fft/2) triangular filters on the Slaney mel scale, area-normalised (Whisper's)."""

    def to_mel(hz: np.ndarray) -> np.ndarray:
        linear = 3.0 * hz / 200.0
        log_start = 1000.0
        return np.where(
            hz >= log_start, 15.0 + np.log(np.maximum(hz, 1e-9) / log_start) / (np.log(6.4) / 27.0), linear
        )

    def to_hz(mel: np.ndarray) -> np.ndarray:
        linear = 200.0 * mel / 3.0
        return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)), linear)

    bins = np.linspace(0, STT_SAMPLE_RATE / 2, 1 + _N_FFT // 2)
    edges = to_hz(np.linspace(to_mel(np.array(0.0)), to_mel(np.array(STT_SAMPLE_RATE / 2)), _N_MELS + 2))
    lower = (bins[None, :] - edges[:-2, None]) / (edges[1:-1] - edges[:-2])[:, None]
    upper = (edges[2:, None] - bins[None, :]) / (edges[2:] - edges[1:-1])[:, None]
    filters = np.maximum(0.0, np.minimum(lower, upper))
    return filters * (2.0 / (edges[2:] - edges[:-2]))[:, None]


def log_mel(audio: AudioArray) -> np.ndarray:
    """Whisper's log-mel spectrogram of 16 kHz audio: (80, len(audio) // 160), values about [-1, 1]."""
    padded = np.pad(audio.astype(np.float64), _N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, _N_FFT)[::_HOP]
    window = np.hanning(_N_FFT + 1)[:-1]  # periodic Hann
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    mel = _mel_filters() @ power[:-1].T  # Whisper drops the last frame
    spec = np.log10(np.maximum(mel, 1e-10))
    spec = np.maximum(spec, spec.max() - 8.0)
    return ((spec + 4.0) / 4.0).astype(np.float32)


class SmartTurn:
    """``complete(audio)`` → the probability that the turn in ``audio`` (16 kHz, the utterance so far,
    ending at the current silence) is finished."""

    def __init__(self, model_path: Path, *, threads: int = 1) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])

    def complete(self, audio: AudioArray) -> float:
        window = WINDOW_S * STT_SAMPLE_RATE
        audio = audio[-window:]
        if len(audio) < window:
            audio = np.concatenate([np.zeros(window - len(audio), np.float32), audio])
        # zero mean, unit variance first, as the model was trained
        audio = (audio - audio.mean()) / np.sqrt(audio.var() + 1e-7)
        features = log_mel(audio)[None, :, :]
        (probability,) = self._session.run(None, {"input_features": features})[0][0]
        return float(probability)


@functools.cache
def shared_smart_turn(model_path: Path) -> SmartTurn:
    """One ONNX session per process (``run`` is thread-safe), loaded on first use."""
    return SmartTurn(model_path)
