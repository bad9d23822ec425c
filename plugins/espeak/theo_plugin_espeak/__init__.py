"""espeak-ng TTS engine for Theo RTC: the always-available fallback (no model files)."""

from theo_plugin_espeak.backend import EspeakBackend

__all__ = ["EspeakBackend"]
