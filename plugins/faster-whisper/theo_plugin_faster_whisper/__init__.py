"""faster-whisper (CTranslate2) STT engine for Theo RTC."""

from theo_plugin_faster_whisper.backend import FasterWhisperBackend

__all__ = ["FasterWhisperBackend"]
