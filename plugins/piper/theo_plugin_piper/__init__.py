"""Piper TTS engine for Theo RTC (optional plugin: GPL-3.0 because piper-tts is)."""

from theo_plugin_piper.backend import PiperBackend

__all__ = ["PiperBackend"]
