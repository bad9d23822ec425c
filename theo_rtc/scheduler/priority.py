"""A concurrency limiter that admits realtime work before batch work (seed §4.2)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import IntEnum


class Priority(IntEnum):
    REALTIME = 0  # streaming sessions: a person is waiting on every partial
    BATCH = 1  # file uploads tolerate queueing


class PriorityLimiter:
    """At most ``capacity`` holders at once; waiters are admitted by priority, then arrival order."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._in_use = 0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._counter = itertools.count()

    @property
    def in_use(self) -> int:
        return self._in_use

    @property
    def waiting(self) -> int:
        return sum(1 for *_, f in self._waiters if not f.done())

    @asynccontextmanager
    async def slot(self, priority: Priority) -> AsyncIterator[None]:
        await self._acquire(priority)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, priority: Priority) -> None:
        if self._in_use < self.capacity and not self.waiting:
            self._in_use += 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (int(priority), next(self._counter), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # we were admitted just as we were cancelled: pass the slot on
            raise

    def _release(self) -> None:
        self._in_use -= 1
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                self._in_use += 1
                future.set_result(None)
                return
