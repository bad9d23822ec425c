"""How long a worker call may take: a floor plus a budget per second of audio it carries.

    deadline_s = worker_deadline_floor_s + worker_deadline_per_audio_s x audio_s

- batch transcription: ``audio_s`` is the upload's duration; the whole gRPC call (info and every segment)
  has that deadline;
- streaming transcription: each decode or commit request has to be answered within the deadline of the
  window it decodes (the audio since the segment's reset); the stream itself lives as long as the session;
- speech synthesis: ``audio_s`` is estimated from the text (:data:`CHARS_PER_AUDIO_SECOND`, slow speech
  assumed, divided by the speed) and covers the whole call, playout-paced consumers included.

A call past its deadline fails with ``worker_timeout`` (HTTP 504; a recoverable ``error`` and a replay on a
streaming session). A hung worker is normally caught sooner by the health checks, which kill it: its calls
then fail with ``worker_unavailable`` (503).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from theo_rtc.config import TheoSettings

CHARS_PER_AUDIO_SECOND = 8.0  # slow, careful speech; normal speech is ~14 characters per second


@dataclass(frozen=True, slots=True)
class Deadlines:
    floor_s: float = 30.0
    per_audio_s: float = 2.0

    @classmethod
    def from_settings(cls, settings: TheoSettings) -> Deadlines:
        return cls(settings.worker_deadline_floor_s, settings.worker_deadline_per_audio_s)

    def for_audio(self, audio_s: float) -> float:
        return self.floor_s + self.per_audio_s * max(0.0, audio_s)

    def for_text(self, text: str, speed: float = 1.0) -> float:
        return self.for_audio(len(text) / CHARS_PER_AUDIO_SECOND / max(speed, 0.25))


class ResponseDeadlines:
    """Deadlines of the requests on one streaming call, answered one by one in order.

    A request's clock starts when it is sent or when the one before it is answered, whichever is later:
    requests are decoded one after another, so each one's budget is its own work only.
    """

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._outstanding: deque[tuple[float, float]] = deque()  # (sent at, budget)
        self._last_answer = 0.0
        self._changed = asyncio.Event()
        self.expired_budget: float | None = None  # set once a request went unanswered past its deadline

    def sent(self, budget_s: float) -> None:
        self._outstanding.append((self._loop.time(), budget_s))
        self._changed.set()

    def answered(self) -> None:
        if self._outstanding:
            self._outstanding.popleft()
        self.restart_clock()

    def restart_clock(self) -> None:
        """The next request's clock starts now at the latest (called when reading resumes)."""
        self._last_answer = self._loop.time()
        self._changed.set()

    async def watch(self, on_expired: Callable[[], object]) -> None:
        """Run until the oldest unanswered request passes its deadline; then call ``on_expired``."""
        while True:
            self._changed.clear()
            if not self._outstanding:
                await self._changed.wait()
                continue
            sent_at, budget = self._outstanding[0]
            remaining = max(sent_at, self._last_answer) + budget - self._loop.time()
            if remaining <= 0:
                self.expired_budget = budget
                on_expired()
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
