"""TTS worker subprocess: loads one voice model through its engine plugin and serves ``TTSWorker`` over gRPC.

Run by the :class:`~theo_rtc.workers.manager.WorkerManager`; prints ``THEO_WORKER_READY port=N`` on stdout
once the model is loaded and the server listens on 127.0.0.1.

``Synthesize`` streams one :class:`~theo_rtc.proto.tts_worker_pb2.SynthesizeChunk` per audio chunk the
backend yields (backends sanitize, split into sentences and resolve voices themselves), then an empty
chunk with ``is_last``. A request error (unknown voice) is ``INVALID_ARGUMENT`` with the OpenAI error
code and param in the trailing metadata, so the runtime can answer 400 with the backend's own message.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import numpy as np
import soxr

from theo_rtc.backends import TTSBackend, load_tts_backend
from theo_rtc.errors import InvalidRequestError
from theo_rtc.proto import tts_worker_pb2 as pb
from theo_rtc.proto import tts_worker_pb2_grpc as pb_grpc
from theo_rtc.registry.manifest import MANIFEST_FILE, ModelManifest
from theo_rtc.workers.protocol import TTS_ERROR_CODE_KEY, TTS_ERROR_PARAM_KEY, serve_worker, worker_main

log = logging.getLogger("theo.worker.tts")


class _Resampler:
    """Per-request streaming int16 resampler, for callers that asked for a rate other than the engine's."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self._stream = soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16", quality="HQ")

    def __call__(self, pcm16: bytes, *, last: bool = False) -> bytes:
        samples = np.frombuffer(pcm16, dtype="<i2")
        out: np.ndarray = self._stream.resample_chunk(samples, last=last)
        return out.astype("<i2", copy=False).tobytes()


class TTSWorkerServicer(pb_grpc.TTSWorkerServicer):
    def __init__(self, backend: TTSBackend, manifest: ModelManifest) -> None:
        self.backend = backend
        self.manifest = manifest
        self._in_flight = 0

    async def Synthesize(
        self, request: pb.SynthesizeRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.SynthesizeChunk]:
        target = request.sample_rate  # 0: the engine's own rate
        rate = 0
        resample: _Resampler | None = None
        tail = b""
        self._in_flight += 1
        try:
            chunks = self.backend.synthesize(
                request.text,
                request.voice,
                speed=request.speed or 1.0,
                language=request.language or None,
            )
            try:
                async for chunk in chunks:
                    if not rate:  # the first chunk fixes the stream's rate
                        rate = target or chunk.sample_rate
                        if rate != chunk.sample_rate:
                            resample = _Resampler(chunk.sample_rate, rate)
                    pcm = resample(chunk.pcm16) if resample is not None else chunk.pcm16
                    if pcm:
                        yield pb.SynthesizeChunk(
                            audio_data=pcm, duration_seconds=len(pcm) / 2 / rate, sample_rate=rate
                        )
                if resample is not None:
                    tail = resample(b"", last=True)
            except InvalidRequestError as exc:
                # Unknown voice and the like: the caller's fault, reported with the backend's message.
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    exc.message,
                    trailing_metadata=(
                        (TTS_ERROR_CODE_KEY, exc.code or ""),
                        (TTS_ERROR_PARAM_KEY, exc.param or ""),
                    ),
                )
            finally:
                # Also runs when the caller cancels: stops the backend's look-ahead synthesis.
                aclose = getattr(chunks, "aclose", None)
                if aclose is not None:
                    await aclose()
            rate = rate or target or self.backend.sample_rate
            yield pb.SynthesizeChunk(
                audio_data=tail, duration_seconds=len(tail) / 2 / rate, sample_rate=rate, is_last=True
            )
        finally:
            self._in_flight -= 1

    async def ListVoices(
        self, request: pb.ListVoicesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListVoicesResponse:
        voices = await self.backend.voices()
        return pb.ListVoicesResponse(
            voices=[pb.Voice(id=v.id, name=v.name, language=v.language, gender=v.gender) for v in voices]
        )

    async def Health(self, request: pb.HealthRequest, context: grpc.aio.ServicerContext) -> pb.HealthResponse:
        status = await self.backend.health()
        details = dict(status.details) | {
            "pid": str(os.getpid()),
            "in_flight": str(self._in_flight),
            "sample_rate": str(self.backend.sample_rate),
        }
        return pb.HealthResponse(
            status=status.status, engine=self.manifest.engine, model=self.manifest.name, details=details
        )


async def serve(model_dir: Path, cpu_threads: int) -> None:
    manifest = ModelManifest.load(model_dir)
    backend = load_tts_backend(manifest.engine)
    config = dict(manifest.engine_config)
    if cpu_threads:
        config.setdefault("threads", cpu_threads)
    # A model directory holding nothing but its theo.yaml (built-in espeak-ng) has no files to load.
    has_files = any(p.name != MANIFEST_FILE for p in model_dir.iterdir())  # noqa: ASYNC240 - startup
    await backend.load(model_dir if has_files else None, config)

    await serve_worker(
        lambda server: pb_grpc.add_TTSWorkerServicer_to_server(TTSWorkerServicer(backend, manifest), server),
        backend.unload,
    )


def main() -> None:
    worker_main("TTS", serve)


if __name__ == "__main__":
    main()
