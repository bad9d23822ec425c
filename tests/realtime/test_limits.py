"""Many sessions at once, clients that never read, frames after close: bounded, clean, and no leaks."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import websockets

from tests.conftest import RunningServer

STORM = 1000


async def health(server: RunningServer) -> dict:  # type: ignore[type-arg]
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as ac:
        response = await ac.get("/health")
        return response.json()  # type: ignore[no-any-return]


async def settle(server: RunningServer, baseline_tasks: int, limit_s: float = 30.0) -> dict:  # type: ignore[type-arg]
    """Wait until no session is open and the server's task count is back near its baseline."""
    deadline = time.monotonic() + limit_s
    while True:
        body = await health(server)
        if body["sessions"] == 0 and body["process"]["asyncio_tasks"] <= baseline_tasks + 5:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"did not settle: {body['sessions']} sessions, {body['process']}")
        await asyncio.sleep(0.5)


async def test_thousand_sessions_at_once(server: RunningServer) -> None:
    before = await health(server)
    url = server.url.replace("http", "ws") + "/v1/realtime"

    async def one() -> str:
        try:
            async with websockets.connect(url, open_timeout=60) as ws:
                first = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if first["type"] == "error":
                    return first["code"]
                await ws.send(bytes(640))
                await ws.send(json.dumps({"type": "session.close"}))
                async for message in ws:
                    if json.loads(message)["type"] == "session.closed":
                        break
                return "served"
        except (OSError, websockets.WebSocketException, TimeoutError) as exc:
            return type(exc).__name__

    rss = []
    for _ in range(2):  # a second storm must not grow memory further: growth would be a leak
        outcomes = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(STORM))), 240)
        counts = {o: outcomes.count(o) for o in set(outcomes)}
        assert set(counts) <= {"served", "too_many_sessions"}, counts  # every client got an answer
        assert counts.get("served", 0) >= 64 and counts.get("too_many_sessions", 0) > 0, counts
        after = await settle(server, before["process"]["asyncio_tasks"])
        assert after["status"] == "ok"
        rss.append(after["process"]["rss_mb"])
    assert rss[0] - before["process"]["rss_mb"] < 300, (before["process"], rss)
    assert rss[1] - rss[0] < 40, rss


async def test_client_that_never_reads_is_dropped(server: RunningServer) -> None:
    before = await health(server)
    url = server.url.replace("http", "ws") + "/v1/realtime"
    # max_queue=1: once one message is buffered the client library stops reading the socket, like a
    # frozen client; every bad message below makes the server queue an error event for it.
    async with websockets.connect(url, max_queue=1) as ws:
        bad = "{" * 100
        try:
            for _ in range(30_000):
                await ws.send(bad)
        except websockets.ConnectionClosed:
            pass
    await settle(server, before["process"]["asyncio_tasks"])
    async with websockets.connect(url) as ws:  # the server still serves
        assert json.loads(await ws.recv())["type"] == "session.created"


async def test_frames_after_close_and_abrupt_disconnects(server: RunningServer) -> None:
    before = await health(server)
    url = server.url.replace("http", "ws") + "/v1/realtime"
    async with websockets.connect(url) as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "session.close"}))
        closed = False
        try:
            for _ in range(50):
                await ws.send(bytes(640))  # frames after close: ignored or the socket is closed
                await asyncio.sleep(0.01)
        except websockets.ConnectionClosed:
            closed = True
        if not closed:
            kinds = [json.loads(m)["type"] async for m in ws]
            assert "session.closed" in kinds
    for _ in range(20):  # clients that vanish mid-stream
        ws = await websockets.connect(url)
        await ws.recv()
        await ws.send(bytes(640))
        ws.transport.abort()
    await settle(server, before["process"]["asyncio_tasks"])
