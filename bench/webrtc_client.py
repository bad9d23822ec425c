"""A browser-less WebRTC client for Theo (aiortc): microphone from a file, events from ``oai-events``,
and Theo's audio recorded with arrival times. Used by tests/webrtc and bench/webrtc.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from theo_rtc.config import TheoSettings
from theo_rtc.transports.webrtc.ice import host_addresses, rtc_configuration, set_jitter_frames
from theo_rtc.transports.webrtc.tracks import PacedAudioTrack

LOOPBACK = ("127.0.0.1",)


@dataclass
class Received:
    """Theo's audio as it arrived: (monotonic time, RMS of a 20 ms frame)."""

    frames: list[tuple[float, float]] = field(default_factory=list)

    def first_audible(self, after: float = 0.0, threshold: float = 0.01) -> float | None:
        return next((t for t, rms in self.frames if t >= after and rms > threshold), None)

    def audible_seconds(self, threshold: float = 0.01) -> float:
        return sum(1 for _, rms in self.frames if rms > threshold) * 0.02


class WebRTCClient:
    def __init__(
        self, base_url: str, *, query: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        self.base_url = base_url
        self.query = query or {}
        self.headers = headers or {}  # e.g. Authorization: Bearer <key or ek_ client secret>
        self.pc = RTCPeerConnection(rtc_configuration(TheoSettings(webrtc_ice_servers=[])))
        self.mic = PacedAudioTrack(buffer_ms=200)
        self.pc.addTrack(self.mic)
        self.channel = self.pc.createDataChannel("oai-events")
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.received = Received()
        self.call_id: str | None = None
        self._event_arrived = asyncio.Event()
        self._opened = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.channel.on("open", self._opened.set)
        self.channel.on("message", self._on_message)
        self.pc.on("track", self._on_track)

    def _on_message(self, message: str | bytes) -> None:
        self.events.append((time.monotonic(), json.loads(message)))
        self._event_arrived.set()

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._tasks.append(asyncio.create_task(self._record(track)))

    async def _record(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                samples = frame.to_ndarray().astype(np.float32) / 32768.0  # type: ignore[union-attr]
                self.received.frames.append((time.monotonic(), float(np.sqrt(np.mean(samples**2)))))

    async def connect(self, limit_s: float = 15.0) -> None:
        offer = await self.pc.createOffer()
        with host_addresses(LOOPBACK):
            await self.pc.setLocalDescription(offer)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as http:
            response = await http.post(
                "/v1/realtime/calls",
                params=self.query,
                content=self.pc.localDescription.sdp,
                headers={"content-type": "application/sdp"} | self.headers,
            )
        if response.status_code != 201:
            raise RuntimeError(f"offer refused: {response.status_code} {response.text}")
        self.call_id = response.headers["location"].rsplit("/", 1)[-1]
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
        for transceiver in self.pc.getTransceivers():
            set_jitter_frames(transceiver.receiver, 1)
        await asyncio.wait_for(self._opened.wait(), limit_s)

    def send(self, event: dict[str, Any]) -> None:
        self.channel.send(json.dumps(event))

    async def play(self, pcm16: bytes, rate: int) -> None:
        """Speak into the microphone at real time (returns once everything is queued on the track)."""
        step = rate // 10 * 2  # 100 ms pieces: the track's buffer paces the writer
        for i in range(0, len(pcm16), step):
            await self.mic.write(pcm16[i : i + step], rate)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for _, e in self.events if e["type"] == kind]

    def time_of(self, kind: str, after: float = 0.0) -> float | None:
        return next((t for t, e in self.events if e["type"] == kind and t >= after), None)

    async def wait_for(self, kind: str, limit_s: float, after: float = 0.0) -> dict[str, Any]:
        deadline = time.monotonic() + limit_s
        while True:
            for t, event in self.events:
                if event["type"] == kind and t >= after:
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [e["type"] for _, e in self.events]
                raise TimeoutError(f"no {kind} within {limit_s} s; saw {seen}")
            self._event_arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event_arrived.wait(), remaining)

    async def close(self) -> None:
        self.mic.stop()
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
