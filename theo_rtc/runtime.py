"""The runtime: model store, workers and services wired together, for the server and the CLI alike."""

from __future__ import annotations

import logging

from theo_rtc.backends.types import TranscriptSegment
from theo_rtc.config import TheoSettings
from theo_rtc.postprocessing import PostProcessingOptions, PostProcessor, get_postprocessor
from theo_rtc.registry.store import ModelStore
from theo_rtc.stt.service import TranscriptionRequest, TranscriptionService
from theo_rtc.tts.service import SpeechService
from theo_rtc.workers.manager import WorkerManager

log = logging.getLogger("theo")


class TheoRuntime:
    def __init__(self, settings: TheoSettings | None = None) -> None:
        self.settings = settings or TheoSettings()
        self.store = ModelStore(self.settings)
        self.workers = WorkerManager(self.settings, self.store)
        self.transcriptions = TranscriptionService(self.settings, self.workers)
        self.speech = SpeechService(self.settings, self.store, self.workers)
        self.postprocessor: PostProcessor = get_postprocessor()
        self.transcriptions.rewriters.append(self._postprocess)

    def _postprocess(
        self, segments: list[TranscriptSegment], request: TranscriptionRequest
    ) -> list[TranscriptSegment]:
        # Final segments only (partials never reach here); a failing stage is skipped inside the pipeline.
        options = PostProcessingOptions.from_mapping(
            request.postprocess, language=request.language, hot_words=request.hot_words
        )
        return self.postprocessor.process_segments(segments, options)

    async def start(self, preload: list[str] | None = None) -> None:
        """Start workers for ``preload`` (installed models only; missing ones are logged, not fatal)."""
        for name in preload or []:
            if not self.store.is_installed(name):
                log.warning("model %s is not installed; run `theo pull %s`", name, name)
                continue
            await self.workers.worker(name)

    async def close(self) -> None:
        await self.workers.shutdown()

    async def __aenter__(self) -> TheoRuntime:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
