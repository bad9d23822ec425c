"""Kokoro-82M (ONNX) TTS engine for Theo RTC."""

from theo_plugin_kokoro.backend import KokoroBackend

__all__ = ["KokoroBackend"]
