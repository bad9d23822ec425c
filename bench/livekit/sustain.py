"""CPU per room (idle and talking) and how many rooms one agent sustains, against one WebSocket session."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import websockets

from bench.evalsets import normalize
from bench.livekit.common import (
    FRAME,
    RATE,
    WAIT_S,
    Clip,
    Setup,
    join_rooms,
    leave_rooms,
    p50,
    p90,
    play,
    silence,
    with_gap,
)
from bench.livekit.meter import CpuMeter


async def idle_rooms(setup: Setup, meter: CpuMeter, count: int, seconds: float) -> dict[str, float]:
    if count == 0:
        meter.start()
        await asyncio.sleep(seconds)
        return meter.stop()
    rooms, people = await join_rooms(setup, "idle", count)
    quiet = asyncio.Event()
    mics = [asyncio.create_task(silence(p.source, quiet)) for p in people if p.source is not None]
    await asyncio.sleep(1.5)
    meter.start()
    await asyncio.sleep(seconds)
    cpu = meter.stop()
    quiet.set()
    await asyncio.gather(*mics)
    await leave_rooms(setup, rooms, people)
    return cpu


@dataclass(frozen=True)
class Loop:
    audio: np.ndarray  # 48 kHz int16
    ends: list[int]  # sample index of each utterance's last word end
    texts: list[str]  # each utterance's reference


def loop_audio(clips: list[Clip], first: int, lead_s: float, talk_s: float) -> Loop:
    """Utterances back to back from ``clips[first]`` on (``GAP_S`` of silence after each) for at least
    ``talk_s`` seconds after ``lead_s`` of silence."""
    pieces = [np.zeros(int(RATE * lead_s), np.int16)]
    ends, texts, length, i = [], [], len(pieces[0]), first
    while length < (lead_s + talk_s) * RATE:
        clip = clips[i % len(clips)]
        ends.append(length + clip.last_word_end)
        texts.append(clip.text)
        piece = with_gap(clip.pcm48)
        pieces.append(piece)
        length += len(piece)
        i += 1
    return Loop(np.concatenate(pieces), ends, texts)


def match_finals(finals: list[tuple[float, str]], ends: list[float], texts: list[str]) -> list[float]:
    """Per utterance (speech end times ``ends``, references ``texts``): how long after its end the final
    covering its end arrived; ``inf`` if none did. Finals (arrival time, text) are matched to utterances
    by their words, not by when they arrive, so a late final is not credited to the next utterance; an
    utterance split into several segments counts its last one. A final with less than half its words in
    any reference (made-up text) is ignored."""
    refs = [set(normalize(t).split()) for t in texts]
    last: dict[int, float] = {}
    for arrived, text in finals:
        words = normalize(text).split()
        if not words:
            continue
        scores = [sum(w in ref for w in words) / len(words) for ref in refs]
        best = max(scores)
        if best < 0.5:
            continue
        # ties: the latest utterance that had ended before the final arrived
        candidates = [k for k, score in enumerate(scores) if score == best]
        before = [k for k in candidates if ends[k] <= arrived]
        last[max(before) if before else min(candidates)] = arrived
    return [last[k] - end if k in last and last[k] >= end else float("inf") for k, end in enumerate(ends)]


def level_stats(delays: list[float], bound: float) -> dict[str, Any]:
    got = [d for d in delays if d != float("inf")]
    return {
        "utterances": len(delays),
        "missing_finals": len(delays) - len(got),
        "final_p50": p50(got),
        "final_p90": p90(got),
        "final_max": max(delays) if delays else float("nan"),
    }


def timeline(
    origin: float, ends: list[float], events: list[tuple[float, dict[str, Any]]], delays: list[float]
) -> dict[str, Any]:
    """What happened in one looped session, in seconds from ``origin`` (for the JSON report)."""
    kinds = ("vad.speech_end", "transcript.final", "session.frames_dropped", "error")
    return {
        "speech_ends": [round(e - origin, 3) for e in ends],
        "delays": [None if d == float("inf") else round(d, 3) for d in delays],
        "events": [
            {"t": round(t - origin, 3), "type": e["type"], "text": e.get("text"), "code": e.get("code")}
            for t, e in events
            if e.get("type") in kinds
        ],
    }


async def websocket_loop(url: str, clips: list[Clip], talk_s: float, bound: float) -> dict[str, Any]:
    """The baseline for the rooms: the same looped speech (48 kHz PCM16, paced by the clock) over one
    ``WS /v1/realtime`` session of ``theo serve``."""
    plan = loop_audio(clips, 0, 0.0, talk_s)
    data = plan.audio.astype("<i2").tobytes()
    events: list[tuple[float, dict[str, Any]]] = []
    created = asyncio.Event()
    async with websockets.connect(
        f"{url.replace('http://', 'ws://')}/v1/realtime?sample_rate={RATE}", max_size=None
    ) as ws:

        async def reader() -> None:
            async for message in ws:
                if isinstance(message, str):
                    events.append((time.monotonic(), json.loads(message)))
                    if events[-1][1]["type"] == "session.created":
                        created.set()
                    if events[-1][1]["type"] == "session.closed":
                        return

        reading = asyncio.create_task(reader())
        await asyncio.wait_for(created.wait(), 30)
        started = time.monotonic()
        step = FRAME * 2
        for i in range(0, len(data), step):
            await ws.send(data[i : i + step])
            await asyncio.sleep(max(0.0, started + (i + step) / 2 / RATE - time.monotonic()))
        ends = [started + m / RATE for m in plan.ends]
        await asyncio.sleep(max(0.0, ends[-1] + bound + WAIT_S - time.monotonic()))
        await ws.send(json.dumps({"type": "session.close"}))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reading, 10)
    finals = [(t, e["text"]) for t, e in events if e["type"] == "transcript.final"]
    delays = match_finals(finals, ends, plan.texts)
    dropped = sum(1 for _, e in events if e["type"] == "session.frames_dropped")
    result = {"rooms": 1, **level_stats(delays, bound), "frames_dropped_events": dropped}
    result["timeline"] = [timeline(started, ends, events, delays)]
    return result


async def sustain_level(
    setup: Setup, meter: CpuMeter, count: int, talk_s: float, bound: float
) -> dict[str, Any]:
    rooms, people = await join_rooms(setup, f"load{count}", count)
    await asyncio.sleep(1.0)
    plans = [loop_audio(setup.clips, i, 0.3 * i, talk_s) for i in range(count)]
    started = time.monotonic()
    meter.start()
    playouts = await asyncio.gather(
        *(play(p.source, plan.audio, plan.ends) for p, plan in zip(people, plans, strict=True) if p.source)
    )
    cpu = meter.stop()
    last = max(max(po.times) for po in playouts)
    await asyncio.sleep(max(0.0, last + bound + WAIT_S - time.monotonic()))
    delays: list[float] = []
    lines = []
    for person, playout, plan in zip(people, playouts, plans, strict=True):
        finals = [(t, e["text"]) for t, e in person.timed if e.get("type") == "transcript.final"]
        mine = match_finals(finals, playout.times, plan.texts)
        delays += mine
        lines.append(timeline(started, playout.times, person.timed, mine))
    dropped = sum(len(p.of("session.frames_dropped")) for p in people)
    rate_limited = sum(len(p.of("session.rate_limit")) for p in people)
    errors = [e for p in people for e in p.of("error")]
    await leave_rooms(setup, rooms, people)
    stats = level_stats(delays, bound)
    result: dict[str, Any] = {
        "rooms": count,
        **stats,
        "frames_dropped_events": dropped,
        "rate_limit_events": rate_limited,
        "errors": [e.get("code") for e in errors],
        "mic_underrun_max_s": max(po.underrun_s for po in playouts),
        "agent_cores": cpu["agent"],
        "agent_cores_per_room": cpu["agent"] / count,
        "livekit_server_cores": cpu["livekit-server"],
        "participants_cores": cpu["participants"],
    }
    result["passed"] = bool(
        delays
        and stats["missing_finals"] == 0
        and dropped == 0
        and not errors
        and stats["final_p90"] <= bound
    )
    result["timeline"] = lines
    return result
