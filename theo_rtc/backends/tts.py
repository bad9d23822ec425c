"""The contract every TTS engine implements to plug into Theo (seed §4.4.1)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from theo_rtc.backends.types import AudioChunk, HealthStatus, VoiceInfo


class TTSBackend(ABC):
    """A TTS engine, loaded once per worker process; registered under ``theo_rtc.tts_backends``."""

    engine: ClassVar[str]

    @abstractmethod
    async def load(self, model_path: Path | None, config: Mapping[str, Any]) -> None:
        """Load from a local directory; ``None`` for engines that need no model files (espeak-ng)."""

    @property
    @abstractmethod
    def sample_rate(self) -> int:
        """Native output rate of :meth:`synthesize`."""

    @abstractmethod
    def synthesize(
        self, text: str, voice: str, *, speed: float = 1.0, language: str | None = None
    ) -> AsyncIterator[AudioChunk]:
        """Stream PCM16 audio for ``text`` as it is produced (first chunk as early as possible)."""

    @abstractmethod
    async def voices(self) -> list[VoiceInfo]: ...

    async def unload(self) -> None:  # noqa: B027 - optional hook
        """Release the model's memory."""

    async def health(self) -> HealthStatus:
        return HealthStatus()
