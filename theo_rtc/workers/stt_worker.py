"""STT worker subprocess: loads one model through its engine plugin and serves ``STTWorker`` over gRPC.

Run by the :class:`~theo_rtc.workers.manager.WorkerManager`; prints ``THEO_WORKER_READY port=N`` on stdout
once the model is loaded and the server listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import numpy as np

from theo_rtc.backends import StreamChunk, STTBackend, load_stt_backend
from theo_rtc.preprocessing.pipeline import pcm16_to_float
from theo_rtc.proto import stt_worker_pb2 as pb
from theo_rtc.proto import stt_worker_pb2_grpc as pb_grpc
from theo_rtc.registry.manifest import ModelManifest
from theo_rtc.workers.convert import hypothesis_to_pb, info_to_pb, options_from_pb, segment_to_pb
from theo_rtc.workers.protocol import serve_worker, worker_main

log = logging.getLogger("theo.worker.stt")


class STTWorkerServicer(pb_grpc.STTWorkerServicer):
    def __init__(self, backend: STTBackend, manifest: ModelManifest) -> None:
        self.backend = backend
        self.manifest = manifest
        self._requests: dict[str, asyncio.Task[object]] = {}

    async def TranscribeFile(
        self, request: pb.TranscribeFileRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.TranscribeFileEvent]:
        task = asyncio.current_task()
        if request.request_id and task is not None:
            self._requests[request.request_id] = task
        try:
            if request.HasField("pcm16_path"):
                audio = (np.fromfile(request.pcm16_path, dtype="<i2").astype(np.float32) / 32768.0).astype(
                    np.float32
                )
            else:
                audio = pcm16_to_float(request.pcm16)
            result = await self.backend.transcribe_file(audio, options_from_pb(request.options))
            yield pb.TranscribeFileEvent(info=info_to_pb(result.info))
            async for segment in result.segments:
                yield pb.TranscribeFileEvent(segment=segment_to_pb(segment))
        finally:
            self._requests.pop(request.request_id, None)

    async def TranscribeStream(
        self, request_iterator: AsyncIterator[pb.AudioFrame], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.TranscriptEvent]:
        session_id = ""

        async def chunks() -> AsyncIterator[StreamChunk]:
            nonlocal session_id
            async for frame in request_iterator:
                session_id = frame.session_id or session_id
                yield StreamChunk(
                    audio=pcm16_to_float(frame.pcm16),
                    decode=frame.decode,
                    commit=frame.commit,
                    reset=frame.reset,
                    prepare=frame.prepare,
                    options=options_from_pb(frame.options) if frame.HasField("options") else None,
                )

        async for hypothesis in self.backend.transcribe_stream(chunks()):
            yield hypothesis_to_pb(session_id, hypothesis)

    async def Cancel(self, request: pb.CancelRequest, context: grpc.aio.ServicerContext) -> pb.CancelResponse:
        task = self._requests.pop(request.request_id, None)
        if task is None:
            return pb.CancelResponse(cancelled=False)
        task.cancel()
        return pb.CancelResponse(cancelled=True)

    async def Health(self, request: pb.HealthRequest, context: grpc.aio.ServicerContext) -> pb.HealthResponse:
        status = await self.backend.health()
        details = dict(status.details) | {"pid": str(os.getpid()), "in_flight": str(len(self._requests))}
        return pb.HealthResponse(
            status=status.status, engine=self.manifest.engine, model=self.manifest.name, details=details
        )


async def serve(model_dir: Path, cpu_threads: int) -> None:
    manifest = ModelManifest.load(model_dir)
    backend = load_stt_backend(manifest.engine)
    config = dict(manifest.engine_config)
    if cpu_threads:
        config["cpu_threads"] = cpu_threads
    await backend.load(model_dir, config)

    await serve_worker(
        lambda server: pb_grpc.add_STTWorkerServicer_to_server(STTWorkerServicer(backend, manifest), server),
        backend.unload,
    )


def main() -> None:
    worker_main("STT", serve)


if __name__ == "__main__":
    main()
