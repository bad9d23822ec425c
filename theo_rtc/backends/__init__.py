"""Engine plugin API: what a plugin package imports to implement an STT or TTS engine."""

from theo_rtc.backends.discovery import (
    EngineNotInstalledError,
    available_engines,
    find_model_file,
    load_stt_backend,
    load_tts_backend,
)
from theo_rtc.backends.stt import STTBackend
from theo_rtc.backends.tts import TTSBackend
from theo_rtc.backends.types import (
    STT_SAMPLE_RATE,
    AudioArray,
    AudioChunk,
    BatchTranscription,
    EngineCapabilities,
    HealthStatus,
    StreamChunk,
    StreamHypothesis,
    STTArchitecture,
    Task,
    TranscribeOptions,
    TranscriptionInfo,
    TranscriptSegment,
    VoiceInfo,
    Word,
)

__all__ = [
    "STT_SAMPLE_RATE",
    "AudioArray",
    "AudioChunk",
    "BatchTranscription",
    "EngineCapabilities",
    "EngineNotInstalledError",
    "HealthStatus",
    "STTArchitecture",
    "STTBackend",
    "StreamChunk",
    "StreamHypothesis",
    "TTSBackend",
    "Task",
    "TranscribeOptions",
    "TranscriptSegment",
    "TranscriptionInfo",
    "VoiceInfo",
    "Word",
    "available_engines",
    "find_model_file",
    "load_stt_backend",
    "load_tts_backend",
]
