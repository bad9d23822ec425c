"""Runtime-side client for a TTS worker: text in, :class:`AudioChunk` stream out, gRPC errors mapped."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import grpc

from theo_rtc.backends.types import AudioChunk, VoiceInfo
from theo_rtc.errors import InvalidRequestError, TheoError, WorkerTimeoutError, WorkerUnavailableError
from theo_rtc.proto import tts_worker_pb2 as pb
from theo_rtc.proto import tts_worker_pb2_grpc as pb_grpc
from theo_rtc.scheduler import Priority
from theo_rtc.workers.process import WorkerProcess, WorkerState
from theo_rtc.workers.protocol import TTS_ERROR_CODE_KEY, TTS_ERROR_PARAM_KEY

_DEAD_CODES = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
}
_EXIT_DETECTION_S = 2.0  # how long a failed call waits to see whether the worker process really died


class TTSWorkerClient:
    def __init__(self, worker: WorkerProcess) -> None:
        self.worker = worker

    @property
    def _stub(self) -> pb_grpc.TTSWorkerStub:
        return pb_grpc.TTSWorkerStub(self.worker.require_channel())

    async def synthesize(
        self,
        text: str,
        voice: str = "",
        *,
        speed: float = 1.0,
        language: str | None = None,
        sample_rate: int = 0,
        priority: Priority = Priority.BATCH,
    ) -> AsyncIterator[AudioChunk]:
        """Stream PCM16 chunks as the worker renders them (``sample_rate`` 0: the engine's own rate).

        Holds one of the worker's slots until the stream ends or is closed; close it (``aclose`` or
        ``contextlib.aclosing``) when abandoning it early. If the worker dies before any audio came
        out, the request waits for the restart and is sent once more: synthesis has no side effects,
        so the caller sees a slower answer instead of a 503. Each attempt has the deadline of the audio
        the text makes (:mod:`.deadlines`); past it, ``worker_timeout`` (504), not retried.
        """
        deadline_s = self.worker.deadlines.for_text(text, speed)
        request = pb.SynthesizeRequest(
            request_id=uuid.uuid4().hex,
            text=text,
            voice=voice,
            sample_rate=sample_rate,
            speed=speed,
            language=language or "",
        )
        async with self.worker.limiter.slot(priority):
            produced = False
            for attempt in range(2):
                await self.worker.wait_ready()
                pid = self.worker.pid
                call = self._stub.Synthesize(request, timeout=deadline_s)
                try:
                    while (message := await call.read()) is not grpc.aio.EOF:
                        if message.audio_data:
                            produced = True
                            yield AudioChunk(pcm16=message.audio_data, sample_rate=message.sample_rate)
                        if message.is_last:
                            return
                    raise WorkerUnavailableError(
                        f"the {self.worker.model.name} worker ended the synthesis early; retry the request"
                    )
                except grpc.aio.AioRpcError as exc:
                    error = self._map_error(exc)
                    retry = isinstance(error, WorkerUnavailableError) and not isinstance(
                        error, WorkerTimeoutError
                    )
                    if produced or attempt or not retry:
                        raise error from exc
                    await self._await_exit(pid)
                finally:
                    if not call.done():
                        call.cancel()

    async def voices(self) -> list[VoiceInfo]:
        await self.worker.wait_ready()
        try:
            response: pb.ListVoicesResponse = await self._stub.ListVoices(
                pb.ListVoicesRequest(), timeout=30.0
            )
        except grpc.aio.AioRpcError as exc:
            raise self._map_error(exc) from exc
        return [
            VoiceInfo(id=v.id, name=v.name, language=v.language, gender=v.gender) for v in response.voices
        ]

    async def health(self) -> pb.HealthResponse:
        try:
            response: pb.HealthResponse = await self._stub.Health(pb.HealthRequest(), timeout=5.0)
            return response
        except grpc.aio.AioRpcError as exc:
            raise self._map_error(exc) from exc

    async def _await_exit(self, pid: int | None) -> None:
        """Give the process watcher a moment to notice the exit, so the retry waits for the restart."""
        deadline = time.monotonic() + _EXIT_DETECTION_S
        while self.worker.pid == pid and self.worker.state == WorkerState.READY:
            if time.monotonic() > deadline:
                return  # still the same live process: a transient error, just retry
            await asyncio.sleep(0.02)

    def _map_error(self, exc: grpc.aio.AioRpcError) -> TheoError:
        if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            return WorkerTimeoutError(
                f"the {self.worker.model.name} worker did not finish the synthesis within its deadline "
                "(THEO_WORKER_DEADLINE_FLOOR_S + THEO_WORKER_DEADLINE_PER_AUDIO_S x the text's audio "
                "seconds); retry the request"
            )
        if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
            meta = {k: v for k, v in (exc.trailing_metadata() or ()) if isinstance(v, str)}
            return InvalidRequestError(
                exc.details() or "invalid request",
                param=meta.get(TTS_ERROR_PARAM_KEY) or None,
                code=meta.get(TTS_ERROR_CODE_KEY) or None,
            )
        if exc.code() in _DEAD_CODES:
            why = self.worker.unhealthy_reason or f"{exc.code().name}: {exc.details()}"
            return WorkerUnavailableError(
                f"the {self.worker.model.name} worker failed during the request ({why}); it is being "
                "restarted, retry the request"
            )
        return TheoError(f"the {self.worker.model.name} worker reported an error: {exc.details()}")
