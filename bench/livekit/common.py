"""Shared parts of bench.livekit: the utterances, a timestamping participant, real-time playout into an
``rtc.AudioSource``, statistics, and the rooms the run joins and leaves."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from livekit import rtc

from bench.evalsets import EVAL_ROOT, load_set
from bench.harness import RunningServer
from bench.livekit.client import (
    AgentProcess,
    Participant,
    dispatch,
    speech_48k,
)
from theo_rtc.transports.livekit.devserver import LocalLiveKit

T = TypeVar("T")

RATE = 48_000


FRAME = RATE // 50  # 20 ms, what a microphone track captures at a time


GAP_S = 1.5  # silence after every utterance (ends the turn: VAD needs 400 ms)


WAIT_S = 5.0  # after the last utterance of a loop, how long (beyond --bound) its final may take


THRESHOLD = 0.01  # RMS of an audible frame (-40 dBFS), as bench/webrtc_client.Received


SENTENCE = "Your table for four is booked for eight o'clock tonight."


TTS_MODELS = ("piper-en-joe", "kokoro-82m")


STT_MODEL = "whisper-tiny.en"


TRANSPORTS = ("LiveKit", "WebSocket", "WebRTC")


@dataclass(frozen=True)
class Clip:
    id: str
    path: Path
    pcm48: np.ndarray  # int16 at 48 kHz
    words: list[dict[str, float]]  # forced-aligned word times (s)
    text: str  # the reference transcript

    @property
    def first_word_end(self) -> int:
        return round(self.words[0]["end"] * RATE)

    @property
    def last_word_end(self) -> int:
        return round(self.words[-1]["end"] * RATE)


def load_clips() -> list[Clip]:
    word_times = json.loads((EVAL_ROOT / "librivox_pocketsphinx_en" / "word_times.json").read_text())
    return [
        Clip(u.id, u.path, speech_48k(u.path), word_times[u.id], u.text)
        for u in load_set("librivox_pocketsphinx_en")
        if u.id in word_times
    ]


@dataclass
class TimedParticipant(Participant):
    """bench.livekit.client.Participant with look-ups by arrival time and a way to start a new session."""

    def times(self, kind: str, session_id: str | None = None, after: float = 0.0) -> list[float]:
        return [
            t
            for t, e in self.timed
            if e.get("type") == kind
            and t >= after
            and (session_id is None or e.get("session_id") == session_id)
        ]

    async def next_event(
        self, kind: str, *, after: float, session_id: str | None = None, within: float = 60
    ) -> tuple[float, dict[str, Any]]:
        def found() -> tuple[float, dict[str, Any]] | None:
            return next(
                (
                    (t, e)
                    for t, e in self.timed
                    if e.get("type") == kind
                    and t >= after
                    and (session_id is None or e.get("session_id") == session_id)
                ),
                None,
            )

        await self.until(lambda: found() is not None, within)
        result = found()
        assert result is not None
        return result

    async def new_microphone(self) -> None:
        """Unpublish the microphone track and publish a new one (the agent opens a new session for it)."""
        old = self.source
        await self.room.local_participant.unpublish_track(self.track_sid)
        if old is not None:
            await old.aclose()
        await self.publish_microphone()


@dataclass
class Playout:
    times: list[float]  # when each requested sample index played out of the source (monotonic)
    underrun_s: float  # how far the writer fell behind real time (0: the source never ran dry)


async def play(source: rtc.AudioSource, samples: np.ndarray, marks: list[int]) -> Playout:
    """Capture ``samples`` (48 kHz int16) in 20 ms frames at real time. The source plays its queue back
    to back, so frame k starts max(end of frame k-1, when it was captured); ``marks`` (sample indices)
    get the time they were played."""
    frames = (len(samples) + FRAME - 1) // FRAME
    wanted = sorted(set(min(m, len(samples) - 1) for m in marks))
    at: dict[int, float] = {}
    start = end = first = 0.0
    for k in range(frames):
        called = time.monotonic()
        start = called if k == 0 else max(end, called)
        if k == 0:
            first = start
        end = start + FRAME / RATE
        while wanted and wanted[0] < (k + 1) * FRAME:
            m = wanted.pop(0)
            at[m] = start + (m - k * FRAME) / RATE
        chunk = samples[k * FRAME : (k + 1) * FRAME]
        if len(chunk) < FRAME:
            chunk = np.concatenate([chunk, np.zeros(FRAME - len(chunk), np.int16)])
        await source.capture_frame(rtc.AudioFrame(chunk.tobytes(), RATE, 1, FRAME))
    underrun = max(0.0, start - (first + (frames - 1) * FRAME / RATE))
    return Playout([at[min(m, len(samples) - 1)] for m in marks], underrun)


async def silence(source: rtc.AudioSource, stop: asyncio.Event) -> None:
    """A live microphone in a quiet room: 20 ms of digital silence at real time until ``stop``."""
    frame = rtc.AudioFrame(bytes(FRAME * 2), RATE, 1, FRAME)
    while not stop.is_set():
        await source.capture_frame(frame)


def with_gap(pcm48: np.ndarray, gap_s: float = GAP_S) -> np.ndarray:
    return np.concatenate([pcm48, np.zeros(int(RATE * gap_s), np.int16)])


def p50(values: list[float]) -> float:
    values = [v for v in values if v == v]  # NaN: not measured (no partial, say)
    return statistics.median(values) if values else float("nan")


def p90(values: list[float]) -> float:
    values = [v for v in values if v == v]
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def ms(value: float | None) -> str:
    if value is None or value != value:  # missing (NaN, or null in a saved report)
        return "–"
    return "inf" if value == float("inf") else f"{value * 1000:.0f}"


@dataclass
class Setup:
    lk: LocalLiveKit
    agent: AgentProcess
    server: RunningServer
    clips: list[Clip]
    rooms_used: int = 0  # rooms the agent has served (and left) so far
    redispatches: int = 0  # dispatches that got no session and were sent again

    def room(self, prefix: str) -> str:
        self.rooms_used += 1
        return f"{prefix}-{self.rooms_used}"


async def agent_left(setup: Setup, rooms: list[str], within: float = 30) -> None:
    """Until the agent logged that it left every room in ``rooms``."""
    deadline = time.monotonic() + within
    while not all(f"left room {r} " in setup.agent.log() for r in rooms):
        if time.monotonic() > deadline:
            missing = [r for r in rooms if f"left room {r} " not in setup.agent.log()]
            print(f"  (agent has not left {missing} after {within:.0f} s)")
            return
        await asyncio.sleep(0.3)


async def join_rooms(setup: Setup, prefix: str, count: int) -> tuple[list[str], list[TimedParticipant]]:
    """``count`` rooms with one participant each (microphone published), the agent dispatched to each."""
    rooms = [setup.room(prefix) for _ in range(count)]
    people = [TimedParticipant(f"{room}-talker") for room in rooms]
    await asyncio.gather(*(p.join(setup.lk, r) for p, r in zip(people, rooms, strict=True)))
    for room, person in zip(rooms, people, strict=True):
        await dispatch_and_wait(setup, room, person)
    return rooms, people


async def dispatch_and_wait(setup: Setup, room: str, person: TimedParticipant) -> None:
    """Dispatch the agent to ``room`` and wait for its session. One room at a time: an idle worker
    refuses a second job offered while the first is still being accepted (see the README), so
    concurrent dispatches would leave rooms without Theo. A dispatch that still gets no session within
    15 s is sent again (counted in ``setup.redispatches``)."""
    for attempt in range(3):
        await dispatch(setup.lk, room)
        try:
            await person.wait_for("session.created", 15)
            return
        except TimeoutError:
            setup.redispatches += 1
            print(f"  (room {room}: no session 15 s after dispatch {attempt + 1}; dispatching again)")
    raise TimeoutError(f"theo agent never joined room {room}")


async def leave_rooms(setup: Setup, rooms: list[str], people: list[TimedParticipant]) -> None:
    await asyncio.gather(*(p.leave() for p in people))
    await agent_left(setup, rooms)


async def poll(found: Callable[[], T | None], within: float) -> T:
    """``found()``'s first value that is not None, looked for every 5 ms for at most ``within`` s."""
    deadline = time.monotonic() + within
    while (value := found()) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing audible within {within} s")
        await asyncio.sleep(0.005)
    return value
