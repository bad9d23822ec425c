"""The session's bidirectional ``TranscribeStream`` to the model's worker, with replay and recovery.

Chunks go out through an outbox; each decode or commit request is answered by one hypothesis, in order.
When the worker dies the stream reconnects and replays from the WAL's fence, so no final is lost or doubled.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

from theo_rtc.backends.types import StreamChunk, StreamHypothesis, TranscribeOptions
from theo_rtc.errors import TheoError, WorkerTimeoutError, WorkerUnavailableError
from theo_rtc.observability import metrics
from theo_rtc.session.events import Emit
from theo_rtc.session.ring_buffer import RingBuffer
from theo_rtc.session.segments import Segments
from theo_rtc.session.transcript import PendingFinal, PendingPartial
from theo_rtc.workers.manager import WorkerManager

log = logging.getLogger("theo.session")

OnPartial = Callable[[StreamHypothesis], Awaitable[None]]
OnFinal = Callable[[PendingFinal, StreamHypothesis], Awaitable[None]]


class EngineStream:
    def __init__(
        self, session_id: str, workers: WorkerManager, ring: RingBuffer, segments: Segments, emit: Emit
    ) -> None:
        self._id = session_id
        self._workers = workers
        self._ring = ring
        self._segments = segments
        self._emit = emit
        self._outbox: asyncio.Queue[StreamChunk | None] | None = None
        self._stopped = False
        self.pending: deque[PendingPartial | PendingFinal] = deque()  # requests awaiting their hypothesis
        self.partial_in_flight = False
        self.finals_idle = asyncio.Event()  # no commit waiting for its final
        self.finals_idle.set()
        self.connected = asyncio.Event()  # the stream to the worker is up (set again after each reconnect)

    def send(self, chunk: StreamChunk) -> None:
        if self._outbox is not None:
            self._outbox.put_nowait(chunk)

    def request_partial(self, chunk: StreamChunk, segment_id: int) -> None:
        self.send(chunk)
        self.pending.append(PendingPartial(segment_id))
        self.partial_in_flight = True

    def request_final(self, chunk: StreamChunk, final: PendingFinal) -> None:
        self.send(chunk)
        self.pending.append(final)
        self.finals_idle.clear()
        self.partial_in_flight = False  # a partial still decoding answers for a segment that has ended

    def restart(self) -> None:
        """End the current stream; :meth:`run` reconnects (to the model configured now)."""
        if self._outbox is not None:
            self._outbox.put_nowait(None)

    def stop(self) -> None:
        """End the stream for good (the session closed)."""
        self._stopped = True
        if self._outbox is not None:
            # End the request stream first: a gRPC call that has not sent its first message yet only notices
            # cancellation once its request iterator yields or ends.
            self._outbox.put_nowait(None)

    async def run(
        self,
        model: Callable[[], str],
        options: Callable[[], TranscribeOptions],
        on_partial: OnPartial,
        on_final: OnFinal,
    ) -> bool:
        """Stream until :meth:`stop`; True when it ended on an error it cannot recover from (reported)."""
        while not self._stopped:
            outbox: asyncio.Queue[StreamChunk | None] = asyncio.Queue()
            try:
                client = await self._workers.stt(model())
                self._outbox = outbox
                self._replay(outbox, options)
                self.connected.set()
                async for hypothesis in client.stream(self._iterate(outbox), session_id=self._id):
                    await self._on_hypothesis(hypothesis, on_partial, on_final)
                if self._stopped:
                    return False
            except WorkerUnavailableError as exc:
                self._outbox = None
                metrics.stt_session_recoveries_total.inc()
                log.warning(
                    "%s: worker stream failed (%s); resuming from the last commit", self._id, exc.message
                )
                code = "worker_timeout" if isinstance(exc, WorkerTimeoutError) else "worker_restarted"
                self._emit("error", code=code, message=exc.message, recoverable=True)
                await asyncio.sleep(0.2)
            except TheoError as exc:
                self._emit("error", code=exc.code or "error", message=exc.message, recoverable=False)
                return True
        return False

    def _replay(
        self, outbox: asyncio.Queue[StreamChunk | None], options: Callable[[], TranscribeOptions]
    ) -> None:
        """After (re)connecting: resend every unanswered commit and the utterance in progress.

        Partials in flight are dropped; finals are only ever emitted when their commit is answered, so
        replaying from the WAL's fence produces each final exactly once.
        """
        finals = [p for p in self.pending if isinstance(p, PendingFinal)]
        self.pending = deque(finals)
        self.partial_in_flight = False
        for final in finals:
            final.window_start = max(final.window_start, self._ring.oldest)
            audio = self._ring.read(final.window_start, final.end)
            outbox.put_nowait(StreamChunk(audio, reset=True, commit=True, options=options()))
        if self._segments.in_progress:
            outbox.put_nowait(StreamChunk(self._segments.resend(), reset=True, options=options()))

    async def _iterate(self, outbox: asyncio.Queue[StreamChunk | None]) -> AsyncIterator[StreamChunk]:
        while (chunk := await outbox.get()) is not None:
            yield chunk

    async def _on_hypothesis(
        self, hypothesis: StreamHypothesis, on_partial: OnPartial, on_final: OnFinal
    ) -> None:
        if not self.pending:
            return
        pending = self.pending.popleft()
        if isinstance(pending, PendingPartial):
            self.partial_in_flight = False
            if pending.segment_id == self._segments.id and self._segments.in_progress:
                await on_partial(hypothesis)
            return
        try:
            await on_final(pending, hypothesis)
        finally:
            if not any(isinstance(p, PendingFinal) for p in self.pending):
                self.finals_idle.set()
