"""The runtime: model store, workers and services wired together, for the server and the CLI alike."""

from __future__ import annotations

import importlib.util
import logging
from typing import TYPE_CHECKING

from theo_rtc.backends.types import TranscriptSegment
from theo_rtc.config import TheoSettings
from theo_rtc.errors import InvalidRequestError
from theo_rtc.postprocessing import PostProcessingOptions, PostProcessor, get_postprocessor
from theo_rtc.registry.store import ModelStore
from theo_rtc.stt.service import TranscriptionRequest, TranscriptionService
from theo_rtc.tts.service import SpeechService
from theo_rtc.workers.manager import WorkerManager

if TYPE_CHECKING:
    from theo_rtc.agent.options import LLMEndpoint

log = logging.getLogger("theo")

DEFAULT_LOCAL_LLM = "qwen2.5-coder-0.5b"
"""The voice agent's offline default (``scripts/serve`` pulls it): ~44 tokens/s on 2 cores, usable pt-BR."""


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

    async def llm_endpoint(self, model: str | None = None) -> LLMEndpoint:
        """The voice agent's LLM. ``THEO_AGENT_LLM_BASE_URL`` set (and no ``model`` asked for): that
        endpoint. Otherwise Theo's managed local runtime (a llama.cpp worker, started on first use and
        restarted if it dies) serving ``model``, else ``THEO_AGENT_LLM_MODEL``, else the default local
        LLM, else any installed one. The endpoint's address survives the worker's restarts."""
        from theo_rtc.agent.defaults import LLMNotConfiguredError
        from theo_rtc.agent.options import LLMEndpoint

        settings = self.settings
        if settings.agent_llm_base_url and model is None:
            if not settings.agent_llm_model:
                raise InvalidRequestError(
                    "THEO_AGENT_LLM_BASE_URL is set without THEO_AGENT_LLM_MODEL", param="agent.llm"
                )
            return LLMEndpoint(
                settings.agent_llm_base_url,
                settings.agent_llm_model,
                settings.agent_llm_api_key or "not-needed",
            )
        name = model or self.local_llm_model()
        if importlib.util.find_spec("llama_cpp") is None:
            raise LLMNotConfiguredError(
                "the local LLM runtime (llama-cpp-python) is not installed: run scripts/setup, or set "
                "THEO_AGENT_LLM_BASE_URL and THEO_AGENT_LLM_MODEL (any OpenAI-compatible server)",
                param="agent.llm",
            )
        worker = await self.workers.llm(name)
        return LLMEndpoint(f"{worker.base_url}/v1", name)

    def local_llm_model(self) -> str:
        """Which installed LLM the local runtime serves when none is named (see :meth:`llm_endpoint`)."""
        configured = None if self.settings.agent_llm_base_url else self.settings.agent_llm_model
        if configured:
            return configured
        installed = [m.name for m in self.store.list() if m.manifest.type == "llm"]
        if not installed:
            from theo_rtc.agent.defaults import LLMNotConfiguredError

            raise LLMNotConfiguredError(
                f"no local LLM is installed: run `theo pull {DEFAULT_LOCAL_LLM}`, or set "
                "THEO_AGENT_LLM_BASE_URL and THEO_AGENT_LLM_MODEL (any OpenAI-compatible server)",
                param="agent.llm",
            )
        return DEFAULT_LOCAL_LLM if DEFAULT_LOCAL_LLM in installed else installed[0]

    async def close(self) -> None:
        await self.workers.shutdown()

    async def __aenter__(self) -> TheoRuntime:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
