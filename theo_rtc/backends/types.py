"""Plain data exchanged between the runtime and engine backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

AudioArray = npt.NDArray[np.float32]
"""Mono float32 samples in [-1, 1]; at 16 kHz whenever it reaches an STT backend."""

STT_SAMPLE_RATE = 16_000


class STTArchitecture(StrEnum):
    ENCODER_DECODER = "encoder-decoder"
    CTC = "ctc"
    STREAMING_NATIVE = "streaming-native"


class Task(StrEnum):
    TRANSCRIBE = "transcribe"
    TRANSLATE = "translate"


@dataclass(frozen=True, slots=True)
class TranscribeOptions:
    language: str | None = None
    task: Task = Task.TRANSCRIBE
    initial_prompt: str | None = None
    temperature: float = 0.0
    word_timestamps: bool = False
    hot_words: tuple[str, ...] = ()
    beam_size: int | None = None


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start: float
    end: float
    probability: float = 1.0


@dataclass(frozen=True, slots=True)
class TranscriptSegment:
    id: int
    start: float
    end: float
    text: str
    tokens: tuple[int, ...] = ()
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    no_speech_prob: float = 0.0
    temperature: float = 0.0
    words: tuple[Word, ...] = ()


@dataclass(frozen=True, slots=True)
class TranscriptionInfo:
    language: str
    language_probability: float
    duration: float


@dataclass(slots=True)
class BatchTranscription:
    """What ``STTBackend.transcribe_file`` returns: the info up front, segments as they are decoded."""

    info: TranscriptionInfo
    segments: AsyncIterator[TranscriptSegment]


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """One step of a streaming transcription (see ``AudioFrame`` in stt_worker.proto)."""

    audio: AudioArray
    decode: bool = False
    commit: bool = False
    reset: bool = False
    options: TranscribeOptions | None = None
    # like decode, at a final's quality; a commit adding no audio may reuse the result (the early final)
    prepare: bool = False

    @property
    def answered(self) -> bool:
        """The engine answers this chunk with exactly one hypothesis (streams answer in order)."""
        return self.decode or self.commit or self.prepare


@dataclass(frozen=True, slots=True)
class StreamHypothesis:
    """A decode of the current window; ``is_final`` once the window was committed."""

    is_final: bool
    text: str
    words: tuple[Word, ...]
    window_seconds: float
    language: str = ""
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    prepared: bool = False  # a final that reused the decode a ``prepare`` chunk asked for


@dataclass(frozen=True, slots=True)
class EngineCapabilities:
    streaming: bool = True
    languages: tuple[str, ...] = ("auto",)
    word_timestamps: bool = False
    translation: bool = False
    partial_transcripts: bool = True
    hot_words: bool = False
    batch_inference: bool = False


@dataclass(frozen=True, slots=True)
class VoiceInfo:
    id: str
    name: str
    language: str
    gender: str = ""


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """PCM16 little-endian mono audio produced by a TTS backend."""

    pcm16: bytes
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.pcm16) / 2 / self.sample_rate


@dataclass(slots=True)
class HealthStatus:
    status: str = "ok"
    details: dict[str, str] = field(default_factory=dict)
