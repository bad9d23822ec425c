"""The contract every STT engine implements to plug into Theo (seed §4.5)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from theo_rtc.backends.types import (
    AudioArray,
    BatchTranscription,
    EngineCapabilities,
    HealthStatus,
    StreamChunk,
    StreamHypothesis,
    STTArchitecture,
    TranscribeOptions,
)


class STTBackend(ABC):
    """An STT engine, loaded once per worker process.

    Plugins subclass this and register it under the ``theo_rtc.stt_backends`` entry-point group with the
    ``engine`` name their manifests use. The runtime never imports a plugin directly.
    """

    engine: ClassVar[str]
    architecture: ClassVar[STTArchitecture]

    @abstractmethod
    async def load(self, model_path: Path, config: Mapping[str, Any]) -> None:
        """Load the model from a local directory (never from a hub)."""

    @abstractmethod
    def capabilities(self) -> EngineCapabilities: ...

    @abstractmethod
    async def transcribe_file(self, audio: AudioArray, options: TranscribeOptions) -> BatchTranscription:
        """Transcribe a whole 16 kHz mono recording; segments are yielded as they are decoded."""

    @abstractmethod
    def transcribe_stream(self, chunks: AsyncIterator[StreamChunk]) -> AsyncIterator[StreamHypothesis]:
        """Consume a live stream; yield a hypothesis for every chunk that asks to decode or commit."""

    async def unload(self) -> None:  # noqa: B027 - optional hook
        """Release the model's memory."""

    async def health(self) -> HealthStatus:
        return HealthStatus()
