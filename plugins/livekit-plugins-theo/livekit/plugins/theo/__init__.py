"""Theo RTC plugin for LiveKit Agents: Theo's self-hosted speech-to-text and text-to-speech engines.

``theo.STT`` recognizes over ``POST /v1/audio/transcriptions`` (batch) and ``WS /v1/realtime`` (streaming
with Theo's VAD, partials and finals); ``theo.TTS`` synthesizes over ``POST /v1/audio/speech`` (raw PCM,
streamed sentence by sentence).
"""

from livekit.agents import Plugin

from .log import logger
from .models import STTModels, STTOptions, TTSModels, TTSOptions, TTSVoices
from .stt import STT, SpeechStream
from .tts import TTS, ChunkedStream, SynthesizeStream
from .version import __version__

__all__ = [
    "STT",
    "TTS",
    "ChunkedStream",
    "STTModels",
    "STTOptions",
    "SpeechStream",
    "SynthesizeStream",
    "TTSModels",
    "TTSOptions",
    "TTSVoices",
    "__version__",
]


class TheoPlugin(Plugin):
    def __init__(self) -> None:
        super().__init__(__name__, __version__, __package__, logger)


Plugin.register_plugin(TheoPlugin())
