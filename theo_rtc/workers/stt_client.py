"""Runtime-side client for an STT worker: protobuf in, backend dataclasses out, gRPC errors mapped."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc

from theo_rtc.backends.types import (
    STT_SAMPLE_RATE,
    AudioArray,
    StreamChunk,
    StreamHypothesis,
    TranscribeOptions,
    TranscriptionInfo,
    TranscriptSegment,
)
from theo_rtc.errors import TheoError, WorkerTimeoutError, WorkerUnavailableError
from theo_rtc.preprocessing.pipeline import float_to_pcm16
from theo_rtc.proto import stt_worker_pb2 as pb
from theo_rtc.proto import stt_worker_pb2_grpc as pb_grpc
from theo_rtc.scheduler import Priority
from theo_rtc.workers.convert import hypothesis_from_pb, info_from_pb, options_to_pb, segment_from_pb
from theo_rtc.workers.deadlines import ResponseDeadlines
from theo_rtc.workers.process import WorkerProcess

_INLINE_LIMIT = 4 << 20  # bytes of PCM sent inline; larger audio goes through a temp file on the same host
_DEAD_CODES = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
}


class BatchStream:
    """Result of :meth:`STTWorkerClient.transcribe_file`: info first, then segments as decoded."""

    def __init__(self, info: TranscriptionInfo, segments: AsyncIterator[TranscriptSegment]) -> None:
        self.info = info
        self.segments = segments


class STTWorkerClient:
    def __init__(self, worker: WorkerProcess) -> None:
        self.worker = worker

    @property
    def _stub(self) -> pb_grpc.STTWorkerStub:
        return pb_grpc.STTWorkerStub(self.worker.require_channel())

    @asynccontextmanager
    async def transcribe_file(
        self, audio: AudioArray, options: TranscribeOptions, *, priority: Priority = Priority.BATCH
    ) -> AsyncIterator[BatchStream]:
        """Usage: ``async with client.transcribe_file(...) as result: async for seg in result.segments``.

        The whole call (info and every segment) has the deadline of the audio's duration (:mod:`.deadlines`).
        """
        request_id = uuid.uuid4().hex
        deadline_s = self.worker.deadlines.for_audio(len(audio) / STT_SAMPLE_RATE)
        pcm = float_to_pcm16(audio)
        path: str | None = None
        async with self.worker.limiter.slot(priority):
            await self.worker.wait_ready()
            try:
                if len(pcm) > _INLINE_LIMIT:
                    fd, path = tempfile.mkstemp(prefix="theo-pcm-", suffix=".s16le")
                    with os.fdopen(fd, "wb") as f:
                        f.write(pcm)
                    request = pb.TranscribeFileRequest(
                        request_id=request_id, options=options_to_pb(options), pcm16_path=path
                    )
                else:
                    request = pb.TranscribeFileRequest(
                        request_id=request_id, options=options_to_pb(options), pcm16=pcm
                    )
                call = self._stub.TranscribeFile(request, timeout=deadline_s)
                try:
                    first = await call.read()
                    if first is grpc.aio.EOF or not first.HasField("info"):
                        raise WorkerUnavailableError("the worker ended the transcription without a result")
                    yield BatchStream(info_from_pb(first.info), self._segments(call))
                except grpc.aio.AioRpcError as exc:
                    raise self._map_error(exc) from exc
                finally:
                    if not call.done():
                        call.cancel()
            finally:
                if path is not None:
                    os.unlink(path)

    async def _segments(self, call: grpc.aio.UnaryStreamCall) -> AsyncIterator[TranscriptSegment]:
        try:
            while (event := await call.read()) is not grpc.aio.EOF:
                yield segment_from_pb(event.segment)
        except grpc.aio.AioRpcError as exc:
            raise self._map_error(exc) from exc

    async def stream(
        self, chunks: AsyncIterator[StreamChunk], *, session_id: str, priority: Priority = Priority.REALTIME
    ) -> AsyncIterator[StreamHypothesis]:
        """Bidirectional streaming transcription (used by streaming sessions).

        Each decode or commit request must be answered within the deadline of the window it decodes; past
        it the call is cancelled and :class:`WorkerTimeoutError` raised, so the session replays.
        """
        await self.worker.wait_ready()
        deadlines = ResponseDeadlines()
        window_s = 0.0  # audio the worker holds for the segment: what the next decode works on

        async def frames() -> AsyncIterator[pb.AudioFrame]:
            nonlocal window_s
            async for chunk in chunks:
                frame = pb.AudioFrame(
                    session_id=session_id,
                    pcm16=float_to_pcm16(chunk.audio) if len(chunk.audio) else b"",
                    decode=chunk.decode,
                    commit=chunk.commit,
                    prepare=chunk.prepare,
                    reset=chunk.reset,
                )
                if chunk.options is not None:
                    frame.options.CopyFrom(options_to_pb(chunk.options))
                window_s = (0.0 if chunk.reset else window_s) + len(chunk.audio) / STT_SAMPLE_RATE
                if chunk.answered:
                    deadlines.sent(self.worker.deadlines.for_audio(window_s))
                if chunk.commit:
                    window_s = 0.0
                yield frame

        call = self._stub.TranscribeStream(frames())
        watchdog = asyncio.create_task(deadlines.watch(call.cancel))
        try:
            while True:
                try:
                    event = await call.read()
                except (asyncio.CancelledError, grpc.aio.AioRpcError) as exc:
                    if deadlines.expired_budget is not None:  # the watchdog cancelled the call
                        raise self._timeout(deadlines.expired_budget) from None
                    if isinstance(exc, grpc.aio.AioRpcError):
                        raise self._map_error(exc) from exc
                    raise  # our own task is being cancelled
                if event is grpc.aio.EOF:
                    if deadlines.expired_budget is not None:
                        raise self._timeout(deadlines.expired_budget)
                    return
                deadlines.answered()
                yield hypothesis_from_pb(event)
                deadlines.restart_clock()  # the time the session spent on the answer is not the worker's
        finally:
            watchdog.cancel()
            call.cancel()

    async def health(self) -> pb.HealthResponse:
        try:
            response: pb.HealthResponse = await self._stub.Health(pb.HealthRequest(), timeout=5.0)
            return response
        except grpc.aio.AioRpcError as exc:
            raise self._map_error(exc) from exc

    def _timeout(self, budget_s: float) -> WorkerTimeoutError:
        return WorkerTimeoutError(
            f"the {self.worker.model.name} worker did not answer within {budget_s:.0f} s; "
            "the stream resumes from the last commit"
        )

    def _map_error(self, exc: grpc.aio.AioRpcError) -> TheoError:
        if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            return WorkerTimeoutError(
                f"the {self.worker.model.name} worker did not finish within the request's deadline "
                "(THEO_WORKER_DEADLINE_FLOOR_S + THEO_WORKER_DEADLINE_PER_AUDIO_S x audio seconds); "
                "retry the request"
            )
        if exc.code() in _DEAD_CODES:
            why = self.worker.unhealthy_reason or f"{exc.code().name}: {exc.details()}"
            return WorkerUnavailableError(
                f"the {self.worker.model.name} worker failed during the request ({why}); it is being "
                "restarted, retry the request"
            )
        return TheoError(f"the {self.worker.model.name} worker reported an error: {exc.details()}")
