"""A real ``livekit.rtc`` participant for the agent tests and bench.livekit: publishes speech at real
time, collects Theo's ``theo.events`` packets, ``lk.transcription`` text streams, and the audio of Theo's
track, each with its arrival time; plus ``theo agent`` started against a server (``start_agent``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import soxr
from livekit import api, rtc

from bench.harness import THEO, free_port
from theo_rtc.preprocessing import decode_audio
from theo_rtc.transports.livekit.devserver import LocalLiveKit

EVENTS = "theo.events"


def speech_48k(path: Path) -> np.ndarray:
    decoded = decode_audio(path.read_bytes())
    samples = soxr.resample(decoded.samples, decoded.sample_rate, 48_000).astype(np.float32)
    return np.asarray(np.clip(samples, -1, 1) * 32767, dtype=np.int16)


def token(server: LocalLiveKit, room: str, identity: str, *, secret: str | None = None) -> str:
    grants = api.VideoGrants(room_join=True, room=room, can_publish=True, can_subscribe=True)
    return (
        api.AccessToken(server.api_key, secret or server.api_secret)
        .with_identity(identity)
        .with_grants(grants)
        .with_ttl(timedelta(hours=1))
        .to_jwt()
    )


async def dispatch(server: LocalLiveKit, room: str, *, agent_name: str = "theo", metadata: str = "") -> str:
    async with api.LiveKitAPI(server.http_url, server.api_key, server.api_secret) as lk:
        created = await lk.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=agent_name, room=room, metadata=metadata)
        )
    return str(created.id)


@dataclass
class Transcription:
    sender: str
    track_id: str
    segment_id: str
    final: bool
    text: str


@dataclass
class Participant:
    identity: str
    room: rtc.Room = field(default_factory=rtc.Room)
    events: list[dict[str, Any]] = field(default_factory=list)
    transcriptions: list[Transcription] = field(default_factory=list)
    theo_audio: list[tuple[float, float]] = field(default_factory=list)  # (monotonic time, frame RMS)
    timed: list[tuple[float, dict[str, Any]]] = field(default_factory=list)  # (arrival, event)
    timed_texts: list[tuple[float, Transcription]] = field(default_factory=list)  # (stream complete, it)
    theo_pcm: list[np.ndarray] = field(default_factory=list)
    source: rtc.AudioSource | None = None
    track_sid: str = ""
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # set whenever something arrives
    # False: take no one's audio (events still arrive); a crowd in one process then costs the FFI and the
    # server N publications instead of N*(N-1) subscriptions
    subscribe: bool = True
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    async def join(self, server: LocalLiveKit, room: str, *, rate: int = 48_000, channels: int = 1) -> None:
        self.room.on("data_received", self._on_data)
        self.room.on("track_subscribed", self._on_track)
        self.room.register_text_stream_handler("lk.transcription", self._on_text)
        options = rtc.RoomOptions(auto_subscribe=self.subscribe)
        await self.room.connect(server.url, token(server, room, self.identity), options)
        await self.publish_microphone(rate=rate, channels=channels)

    async def publish_microphone(self, *, rate: int = 48_000, channels: int = 1) -> None:
        self.source = rtc.AudioSource(rate, channels)
        track = rtc.LocalAudioTrack.create_audio_track("mic", self.source)
        publication = await self.room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        self.track_sid = publication.sid

    async def say(
        self, pcm48k: np.ndarray, *, rate: int = 48_000, channels: int = 1, tail_s: float = 1.5
    ) -> None:
        """Publish ``pcm48k`` (then silence) in 20 ms frames at real time, as a microphone would."""
        assert self.source is not None
        samples = pcm48k if rate == 48_000 else soxr.resample(pcm48k, 48_000, rate).astype(np.int16)
        samples = np.concatenate([samples, np.zeros(int(rate * tail_s), np.int16)])
        frame = rate // 50
        for start in range(0, len(samples) - frame + 1, frame):
            chunk = samples[start : start + frame]
            data = np.repeat(chunk, channels) if channels > 1 else chunk
            await self.source.capture_frame(rtc.AudioFrame(data.tobytes(), rate, channels, frame))

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        payload = json.dumps(message) if isinstance(message, dict) else message
        await self.room.local_participant.publish_data(payload, reliable=True, topic=EVENTS)

    async def wait_for(self, kind: str, within: float = 60, count: int = 1) -> dict[str, Any]:
        await self.until(lambda: len(self.of(kind)) >= count, within)
        return self.of(kind)[count - 1]

    async def until(self, condition: Callable[[], bool], within: float = 60) -> None:
        async with asyncio.timeout(within):
            while not condition():
                self.changed.clear()
                await self.changed.wait()

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]

    def finals(self) -> list[Transcription]:
        return [t for t in self.transcriptions if t.final]

    async def leave(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.room.disconnect()

    def _on_data(self, packet: rtc.DataPacket) -> None:
        if packet.topic == EVENTS:
            event = json.loads(packet.data)
            self.events.append(event)
            self.timed.append((time.monotonic(), event))
            self.changed.set()

    def _on_text(self, reader: rtc.TextStreamReader, sender: str) -> None:
        async def read() -> None:
            text = await reader.read_all()
            attributes = reader.info.attributes or {}
            item = Transcription(
                sender,
                attributes.get("lk.transcribed_track_id", ""),
                attributes.get("lk.segment_id", ""),
                attributes.get("lk.transcription_final") == "true",
                text,
            )
            self.transcriptions.append(item)
            self.timed_texts.append((time.monotonic(), item))
            self.changed.set()

        self._tasks.append(asyncio.create_task(read()))

    def _on_track(
        self, track: rtc.Track, publication: rtc.RemoteTrackPublication, who: rtc.RemoteParticipant
    ) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO and who.identity.startswith("agent-"):
            self._tasks.append(asyncio.create_task(self._listen(track)))

    async def _listen(self, track: rtc.Track) -> None:
        async for event in rtc.AudioStream.from_track(track=track, sample_rate=16_000, num_channels=1):
            samples = np.frombuffer(event.frame.data, np.int16).astype(np.float32) / 32768
            self.theo_audio.append((time.monotonic(), float(np.sqrt(np.mean(samples**2)))))
            self.theo_pcm.append(samples)

    def heard(self, after: float = 0.0, threshold: float = 0.01) -> float:
        """Seconds of audible audio received from Theo's track since ``after``."""
        return sum(0.01 for t, rms in self.theo_audio if t > after and rms > threshold)  # 10 ms frames


@dataclass
class AgentProcess:
    process: subprocess.Popen[bytes]
    health_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode


def start_agent(
    server: LocalLiveKit, home: Path, log_path: Path, *, extra: tuple[str, ...] = (), wait: bool = True
) -> AgentProcess:
    """`theo agent` against ``server``; waits until its health endpoint says it registered."""
    port = free_port()
    args = [
        THEO,
        "agent",
        "--url",
        server.url,
        "--api-key",
        server.api_key,
        "--api-secret",
        server.api_secret,
    ]
    args += ["--health-port", str(port), *extra]
    env = os.environ | {"THEO_HOME": str(home)}
    with log_path.open("wb") as out:
        process = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    agent = AgentProcess(process, f"http://127.0.0.1:{port}/", log_path)
    if wait:
        wait_registered(agent)
    return agent


def wait_registered(agent: AgentProcess, timeout: float = 120, count: int = 1) -> None:
    """Until the worker logged its ``count``-th registration and its health endpoint answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if agent.process.poll() is not None:
            raise RuntimeError(f"theo agent exited:\n{agent.log()}")
        if agent.log().count("registered as worker") >= count:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(agent.health_url, timeout=2).status_code == 200:
                    return
        time.sleep(0.3)
    raise RuntimeError(f"theo agent did not register within {timeout} s:\n{agent.log()}")
