"""Priority admission: realtime work is admitted before queued batch work."""

from __future__ import annotations

import asyncio

from theo_rtc.scheduler import Priority, PriorityLimiter


async def test_realtime_jumps_the_batch_queue() -> None:
    limiter = PriorityLimiter(1)
    order: list[str] = []
    release = asyncio.Event()

    async def job(name: str, priority: Priority) -> None:
        async with limiter.slot(priority):
            order.append(name)
            if name == "first":
                await release.wait()

    first = asyncio.create_task(job("first", Priority.BATCH))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(job(n, Priority.BATCH)) for n in ("batch-1", "batch-2")]
    await asyncio.sleep(0)
    waiting.append(asyncio.create_task(job("realtime", Priority.REALTIME)))
    await asyncio.sleep(0)
    assert limiter.in_use == 1 and limiter.waiting == 3
    release.set()
    await asyncio.gather(first, *waiting)
    assert order == ["first", "realtime", "batch-1", "batch-2"]
    assert limiter.in_use == 0


async def test_cancelled_waiter_does_not_leak_a_slot() -> None:
    limiter = PriorityLimiter(1)
    async with limiter.slot(Priority.BATCH):
        waiter = asyncio.create_task(limiter.slot(Priority.BATCH).__aenter__())
        await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
    assert limiter.in_use == 0
    async with asyncio.timeout(1), limiter.slot(Priority.BATCH):
        assert limiter.in_use == 1
