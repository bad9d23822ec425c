"""Theo RTC: a self-hosted realtime voice runtime (STT + TTS) with OpenAI-compatible APIs."""

from theo_rtc.config import TheoSettings
from theo_rtc.errors import TheoError

__version__ = "0.1.0"

__all__ = ["TheoError", "TheoSettings", "__version__"]
