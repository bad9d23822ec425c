"""Mic-to-final per transport and ``tts.speak`` to the first audible frame, interleaved."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import websockets

from bench.livekit.common import (
    GAP_S,
    SENTENCE,
    THRESHOLD,
    TRANSPORTS,
    TTS_MODELS,
    Clip,
    Setup,
    TimedParticipant,
    dispatch_and_wait,
    leave_rooms,
    ms,
    p50,
    p90,
    play,
    poll,
    silence,
    with_gap,
)
from bench.webrtc import one_webrtc
from bench.webrtc_client import WebRTCClient
from tests.realtime.helpers import stream_file


async def livekit_utterance(person: TimedParticipant, clip: Clip, count: int) -> dict[str, float]:
    """One utterance on a fresh microphone track (a fresh session) of ``person``; latencies in seconds."""
    if count > 1:
        await person.new_microphone()
    created = await person.wait_for("session.created", 60, count=count)
    sid = created["session_id"]
    assert person.source is not None
    playout = await play(person.source, with_gap(clip.pcm48), [clip.first_word_end, clip.last_word_end])
    first_end, last_end = playout.times
    final_at, final = await person.next_event("transcript.final", after=0.0, session_id=sid, within=30)
    partials = person.times("transcript.partial", sid)
    vad_end = person.times("vad.speech_end", sid)
    await person.until(
        lambda: any(t.final and t.segment_id.startswith(sid) for _, t in person.timed_texts), 10
    )
    text_at = next(t for t, tr in person.timed_texts if tr.final and tr.segment_id.startswith(sid))
    return {
        "first_partial": partials[0] - first_end if partials else float("nan"),
        "final": final_at - last_end,
        "final_text_stream": text_at - last_end,
        "after_vad_end": final_at - vad_end[0] if vad_end else float("nan"),
        "underrun": playout.underrun_s,
        "text": final["text"],
    }


async def one_websocket(url: str, path: Path, words: list[dict[str, float]]) -> tuple[float, float, float]:
    """bench.webrtc.one_websocket, but a missing partial (shed by a busy worker) is NaN, not an error."""
    result = await stream_file(url.replace("http://", "ws://"), path, speed=1.0, tail_silence_s=GAP_S)

    def first(kind: str) -> float:
        return next((t for t, e in result.events if e["type"] == kind), float("nan"))

    final = first("transcript.final")
    return (
        first("transcript.partial") - words[0]["end"],
        final - words[-1]["end"],
        final - first("vad.speech_end"),
    )


async def mic_to_final(setup: Setup, clips: list[Clip]) -> dict[str, Any]:
    """Every clip through LiveKit, the WebSocket and the WebRTC peer, in turn (after one warm-up each)."""
    url = setup.server.url
    room = setup.room("latency")
    person = TimedParticipant("speaker")
    await person.join(setup.lk, room)
    await dispatch_and_wait(setup, room, person)
    warm = clips[1 % len(clips)]
    await livekit_utterance(person, warm, 1)
    await one_websocket(url, warm.path, warm.words)
    await one_webrtc(url, warm.path, warm.words)
    rows: dict[str, list[dict[str, float]]] = {t: [] for t in TRANSPORTS}
    for i, clip in enumerate(clips):
        lk = await livekit_utterance(person, clip, i + 2)
        rows["LiveKit"].append(lk)
        for name, run in (("WebSocket", one_websocket), ("WebRTC", one_webrtc)):
            partial, final, after_vad = await run(url, clip.path, clip.words)
            rows[name].append({"first_partial": partial, "final": final, "after_vad_end": after_vad})
        print(
            f"  {clip.id}: final LiveKit {ms(lk['final'])} / WebSocket {ms(rows['WebSocket'][-1]['final'])}"
            f" / WebRTC {ms(rows['WebRTC'][-1]['final'])} ms"
        )
    await leave_rooms(setup, [room], [person])
    out: dict[str, Any] = {}
    for name, values in rows.items():
        finals = [v["final"] for v in values]
        out[name] = {
            "n": len(values),
            "first_partial_p50": p50([v["first_partial"] for v in values]),
            "final_p50": p50(finals),
            "final_p90": p90(finals),
            "final_max": max(finals, default=float("nan")),
            "after_vad_end_p50": p50([v["after_vad_end"] for v in values]),
            # when vad.speech_end reached the client, after the last word ended
            "vad_end_event_p50": p50([v["final"] - v["after_vad_end"] for v in values]),
            "per_utterance": values,
        }
    streamed = [v["final_text_stream"] for v in rows["LiveKit"]]
    out["LiveKit lk.transcription"] = {
        "n": len(streamed),
        "final_p50": p50(streamed),
        "final_p90": p90(streamed),
        "final_max": max(streamed),
    }
    return out


class WebSocketSpeaker:
    """Theo's protocol over ``WS /v1/realtime``: a live microphone (silence), events, TTS audio as it
    arrives (arrival time and samples of every binary message)."""

    def __init__(self, url: str) -> None:
        self.url = url.replace("http://", "ws://")
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.audio: list[tuple[float, np.ndarray]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._ws: Any = None

    async def connect(self) -> None:
        self._ws = await websockets.connect(f"{self.url}/v1/realtime?sample_rate=16000", max_size=None)
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._mic())]
        await self.next_event("session.created", after=0.0)

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for message in self._ws:
                now = time.monotonic()
                if isinstance(message, bytes):
                    self.audio.append((now, np.frombuffer(message, "<i2").astype(np.float32) / 32768))
                else:
                    self.events.append((now, json.loads(message)))

    async def _mic(self) -> None:
        started, sent = time.monotonic(), 0
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                await self._ws.send(bytes(640))  # 20 ms at 16 kHz
                sent += 1
                await asyncio.sleep(max(0.0, started + sent * 0.02 - time.monotonic()))

    async def send(self, message: dict[str, Any]) -> None:
        await self._ws.send(json.dumps(message))

    async def next_event(
        self, kind: str, *, after: float, within: float = 60
    ) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + within
        while True:
            for t, e in self.events:
                if e["type"] == kind and t >= after:
                    return t, e
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {kind} within {within} s")
            await asyncio.sleep(0.005)

    def first_audible(self, after: float, rate: int) -> tuple[float, float] | None:
        """(arrival of the first audible 20 ms frame, seconds of audio before it), audio after ``after``."""
        frame = rate // 50
        buffered = np.zeros(0, np.float32)
        offset = 0  # samples before ``buffered``
        for t, samples in self.audio:
            if t < after:
                continue
            buffered = np.concatenate([buffered, samples])
            while len(buffered) >= frame:
                chunk, buffered = buffered[:frame], buffered[frame:]
                if float(np.sqrt(np.mean(chunk**2))) > THRESHOLD:
                    return t, offset / rate
                offset += frame
        return None

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._ws.close()


async def speak_livekit(person: TimedParticipant, model: str) -> dict[str, float]:
    asked = time.monotonic()
    await person.send({"type": "tts.speak", "text": SENTENCE, "model": model})
    started_at, start = await person.next_event("tts.speaking_start", after=asked)
    heard = await poll(
        lambda: next((t for t, rms in person.theo_audio if t >= asked and rms > THRESHOLD), None), 60
    )
    await person.send({"type": "tts.cancel"})
    await person.next_event("tts.speaking_end", after=asked)
    return {
        "to_client": heard - asked,
        "engine": start["first_audio_ms"] / 1000,
        "start_event": started_at - asked,
    }


async def speak_websocket(client: WebSocketSpeaker, model: str) -> dict[str, float]:
    asked = time.monotonic()
    await client.send({"type": "tts.speak", "text": SENTENCE, "model": model})
    started_at, start = await client.next_event("tts.speaking_start", after=asked)
    heard, lead_in = await poll(lambda: client.first_audible(started_at, start["sample_rate"]), 60)
    await client.send({"type": "tts.cancel"})
    await client.next_event("tts.speaking_end", after=asked)
    return {
        "to_client": heard - asked,
        "engine": start["first_audio_ms"] / 1000,
        "start_event": started_at - asked,
        "lead_in": lead_in,
    }


async def speak_webrtc(client: WebRTCClient, model: str) -> dict[str, float]:
    asked = time.monotonic()
    client.send({"type": "tts.speak", "text": SENTENCE, "model": model})
    start = await client.wait_for("tts.speaking_start", 60, after=asked)
    started_at = client.time_of("tts.speaking_start", after=asked) or float("nan")
    heard = await poll(lambda: client.received.first_audible(after=asked, threshold=THRESHOLD), 60)
    client.send({"type": "tts.cancel"})
    await client.wait_for("tts.speaking_end", 60, after=asked)
    return {
        "to_client": heard - asked,
        "engine": start["first_audio_ms"] / 1000,
        "start_event": started_at - asked,
    }


async def tts_latency(setup: Setup, repeats: int) -> dict[str, Any]:
    """``repeats`` requests per model and transport, interleaved; the first request of each is a warm-up."""
    room = setup.room("speak")
    person = TimedParticipant("listener")
    await person.join(setup.lk, room)
    await dispatch_and_wait(setup, room, person)
    assert person.source is not None
    quiet = asyncio.Event()
    mic = asyncio.create_task(silence(person.source, quiet))
    ws = WebSocketSpeaker(setup.server.url)
    await ws.connect()
    peer = WebRTCClient(setup.server.url)
    await peer.connect()
    runs: dict[str, Callable[[str], Awaitable[dict[str, float]]]] = {
        "LiveKit": lambda m: speak_livekit(person, m),
        "WebSocket": lambda m: speak_websocket(ws, m),
        "WebRTC": lambda m: speak_webrtc(peer, m),
    }
    rows: dict[str, dict[str, list[dict[str, float]]]] = {m: {t: [] for t in TRANSPORTS} for m in TTS_MODELS}
    try:
        for attempt in range(repeats + 1):
            for model in TTS_MODELS:
                for name, run in runs.items():
                    result = await run(model)
                    if attempt:  # the first round starts and warms every worker
                        rows[model][name].append(result)
                    await asyncio.sleep(0.8)  # what was cancelled has left every jitter buffer
    finally:
        quiet.set()
        await mic
        await ws.close()
        await peer.close()
        await leave_rooms(setup, [room], [person])
    out: dict[str, Any] = {}
    for model, by_transport in rows.items():
        out[model] = {
            name: {
                "to_client_p50": p50([r["to_client"] for r in values]),
                "engine_p50": p50([r["engine"] for r in values]),
                "transport_p50": p50([r["to_client"] - r["engine"] for r in values]),
                # tts.speaking_start at the client minus the engine's first audio: both message legs
                "events_p50": p50([r["start_event"] - r["engine"] for r in values]),
                # the first audible frame after tts.speaking_start arrived (voice path - event leg)
                "voice_after_event_p50": p50([r["to_client"] - r["start_event"] for r in values]),
                "runs": values,
            }
            for name, values in by_transport.items()
        }
        out[model]["lead_in_s"] = p50([r["lead_in"] for r in by_transport["WebSocket"]])
    return out
