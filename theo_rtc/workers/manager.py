"""Keeps one worker subprocess per model in use; starts them on demand, restarts them when they die."""

from __future__ import annotations

import asyncio
import logging

from theo_rtc.config import TheoSettings
from theo_rtc.errors import InvalidRequestError
from theo_rtc.observability import metrics
from theo_rtc.registry.store import ModelStore
from theo_rtc.workers.deadlines import Deadlines
from theo_rtc.workers.process import WORKER_MODULES, WorkerInfo, WorkerProcess, WorkerState
from theo_rtc.workers.stt_client import STTWorkerClient
from theo_rtc.workers.tts_client import TTSWorkerClient

log = logging.getLogger("theo.workers")


class WorkerManager:
    def __init__(self, settings: TheoSettings, store: ModelStore) -> None:
        self.settings = settings
        self.store = store
        self._workers: dict[str, WorkerProcess] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def worker(self, model_name: str) -> WorkerProcess:
        """The running worker for ``model_name``, started if needed (raises ModelNotFoundError)."""
        existing = self._workers.get(model_name)
        if existing is not None and existing.state != WorkerState.FAILED:
            return existing
        lock = self._locks.setdefault(model_name, asyncio.Lock())
        async with lock:
            existing = self._workers.get(model_name)
            if existing is not None and existing.state != WorkerState.FAILED:
                return existing
            model = self.store.get(model_name)
            if model.manifest.type not in WORKER_MODULES:
                raise InvalidRequestError(
                    f"model {model_name!r} ({model.manifest.type}) runs inside the runtime, not in a worker",
                    param="model",
                )
            worker = WorkerProcess(
                model,
                start_timeout=self.settings.worker_start_timeout_s,
                restart_backoff=self.settings.worker_restart_backoff_s,
                cpu_threads=self.settings.worker_cpu_threads,
                concurrency=self.settings.tts_worker_concurrency
                if model.manifest.type == "tts"
                else self.settings.worker_concurrency,
                on_exit=self._on_worker_exit,
            )
            worker.deadlines = Deadlines.from_settings(self.settings)
            # The LLM keeps its own generous probe (a busy llama.cpp answers late).
            if model.manifest.type != "llm":
                worker.probe_interval_s = self.settings.worker_health_interval_s
                worker.probe_timeout_s = self.settings.worker_health_timeout_s
                worker.probe_failures = self.settings.worker_health_failures
            self._workers[model_name] = worker
            await worker.start()
            return worker

    async def stt(self, model_name: str) -> STTWorkerClient:
        kind = self.store.get(model_name).manifest.type
        if kind != "stt":
            raise InvalidRequestError(
                f"model {model_name!r} is a {kind} model, not speech-to-text", param="model"
            )
        return STTWorkerClient(await self.worker(model_name))

    async def tts(self, model_name: str) -> TTSWorkerClient:
        running = self._workers.get(model_name)  # per-request path: avoid re-reading theo.yaml
        kind = running.kind if running is not None else self.store.get(model_name).manifest.type
        if kind != "tts":
            raise InvalidRequestError(
                f"model {model_name!r} is a {kind} model, not text-to-speech", param="model"
            )
        return TTSWorkerClient(await self.worker(model_name))

    async def llm(self, model_name: str) -> WorkerProcess:
        """The ready LLM worker for ``model_name`` (an HTTP server: see :attr:`WorkerProcess.base_url`),
        started on first use; waits while it restarts."""
        running = self._workers.get(model_name)
        kind = running.kind if running is not None else self.store.get(model_name).manifest.type
        if kind != "llm":
            raise InvalidRequestError(f"model {model_name!r} is a {kind} model, not an LLM", param="model")
        worker = await self.worker(model_name)
        await worker.wait_ready()
        return worker

    def infos(self) -> list[WorkerInfo]:
        return [w.info() for w in self._workers.values()]

    def get_running(self, model_name: str) -> WorkerProcess | None:
        return self._workers.get(model_name)

    async def shutdown(self) -> None:
        await asyncio.gather(*(w.stop() for w in self._workers.values()), return_exceptions=True)
        self._workers.clear()

    def _on_worker_exit(self, model_name: str, code: int | None) -> None:
        metrics.worker_errors_total.labels(model_name, "exit").inc()
        metrics.worker_restarts_total.labels(model_name).inc()
