"""Engine-agnostic TTS support: input sanitizing and sentence splitting, voice mapping, streaming
synthesis helpers and response encoders. Engine plugins and the TTS route/worker build on it."""

from theo_rtc.tts.encode import (
    CONTENT_TYPES,
    PCM_SAMPLE_RATE,
    RESPONSE_FORMATS,
    AudioEncoder,
    ResponseFormat,
    content_type,
    create_encoder,
    encode_all,
    encode_stream,
)
from theo_rtc.tts.streaming import MAX_SPEED, MIN_SPEED, clamp_speed, float_to_pcm16, stream_pieces
from theo_rtc.tts.text import guess_language, has_speech, sanitize_text, split_sentences
from theo_rtc.tts.voices import (
    OPENAI_VOICES,
    UnknownVoiceError,
    is_openai_voice,
    primary_language,
    resolve_voice,
)

__all__ = [
    "CONTENT_TYPES",
    "MAX_SPEED",
    "MIN_SPEED",
    "OPENAI_VOICES",
    "PCM_SAMPLE_RATE",
    "RESPONSE_FORMATS",
    "AudioEncoder",
    "ResponseFormat",
    "UnknownVoiceError",
    "clamp_speed",
    "content_type",
    "create_encoder",
    "encode_all",
    "encode_stream",
    "float_to_pcm16",
    "guess_language",
    "has_speech",
    "is_openai_voice",
    "primary_language",
    "resolve_voice",
    "sanitize_text",
    "split_sentences",
    "stream_pieces",
]
