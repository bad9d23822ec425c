"""The test side of a phone call: the PJSUA2 caller (tests/sip/caller.py) as an asyncio subprocess, and a
silent observer in the call's LiveKit room that collects Theo's ``theo.events`` (bench.livekit's
:class:`Participant`, connected without publishing a microphone, so Theo opens no session for it)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from livekit import api, rtc

from bench.livekit.client import Participant, token
from theo_rtc.transports.livekit.devserver import LocalLiveKit

REPO = Path(__file__).resolve().parents[2]


class Phone:
    """One call placed by the caller process; its events (JSON lines) arrive in :attr:`events`."""

    def __init__(self, process: asyncio.subprocess.Process, log_path: Path) -> None:
        self.process = process
        self.log_path = log_path
        self.events: list[dict[str, Any]] = []
        self.changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def dial(
        cls, to: str, record: Path, *, bind: str = "127.0.0.1", extra: tuple[str, ...] = ()
    ) -> Phone:
        log_path = record.with_suffix(".caller.log")
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.sip.caller",
                "--to",
                to,
                "--record",
                str(record),
                "--bind",
                bind,
                *extra,
                cwd=REPO,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        return cls(process, log_path)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            if line.startswith(b"{"):
                self.events.append(json.loads(line))
                self.changed.set()
        self.events.append({"event": "closed", "t": time.monotonic()})
        self.changed.set()

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind]

    async def until(self, condition: Callable[[], bool], within: float) -> None:
        async with asyncio.timeout(within):  # a hang guard: the events decide
            while not condition():
                self.changed.clear()
                await self.changed.wait()

    async def wait_for(self, kind: str, within: float = 60, count: int = 1) -> dict[str, Any]:
        await self.until(lambda: len(self.of(kind)) >= count or bool(self.of("closed")), within)
        found = self.of(kind)
        if len(found) < count:
            raise AssertionError(f"caller ended before {kind!r}: {self.events}\n{self.log_path.read_text()}")
        return found[count - 1]

    async def send(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        await self.process.stdin.drain()

    async def play(self, wav: Path) -> None:
        await self.send(cmd="play", wav=str(wav))

    async def close(self) -> None:
        """Hang up (if still on the call) and wait for the caller to exit (killed if it does not)."""
        if self.process.returncode is None:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.send(cmd="hangup")
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        await asyncio.gather(self._reader, return_exceptions=True)


async def call_room(server: LocalLiveKit, known: set[str], within: float = 60) -> str:
    """The name of the ``call-`` room that is not in ``known`` (LiveKit SIP made it for the new call)."""
    async with (
        asyncio.timeout(within),
        api.LiveKitAPI(server.http_url, server.api_key, server.api_secret) as lk,
    ):
        while True:
            rooms = (await lk.room.list_rooms(api.ListRoomsRequest())).rooms
            fresh = [r.name for r in rooms if r.name.startswith("call-") and r.name not in known]
            if fresh:
                return fresh[0]
            await asyncio.sleep(0.2)


async def room_names(server: LocalLiveKit) -> set[str]:
    async with api.LiveKitAPI(server.http_url, server.api_key, server.api_secret) as lk:
        return {r.name for r in (await lk.room.list_rooms(api.ListRoomsRequest())).rooms}


async def observe(server: LocalLiveKit, room: str, identity: str = "observer") -> Participant:
    """Join ``room`` to read Theo's events, publishing nothing."""
    observer = Participant(identity, subscribe=False)
    observer.room.on("data_received", observer._on_data)
    observer.room.register_text_stream_handler("lk.transcription", observer._on_text)
    await observer.room.connect(
        server.url, token(server, room, identity), rtc.RoomOptions(auto_subscribe=False)
    )
    return observer
