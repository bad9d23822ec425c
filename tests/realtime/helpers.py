"""Clients for the realtime tests: stream real speech at a chosen pace and collect the events."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soxr
import websockets

from theo_rtc.preprocessing import decode_audio


def pcm16(path: Path, rate: int | None = None) -> tuple[bytes, int]:
    decoded = decode_audio(path.read_bytes())
    samples, source_rate = decoded.samples, decoded.sample_rate
    if rate is not None and rate != source_rate:
        samples = soxr.resample(samples, source_rate, rate).astype(np.float32)
        source_rate = rate
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes(), source_rate


@dataclass
class Transcript:
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for _, e in self.events if e["type"] == kind]

    def first_time(self, kind: str) -> float:
        return next(t for t, e in self.events if e["type"] == kind)

    @property
    def finals(self) -> list[str]:
        return [e["text"] for e in self.of("transcript.final")]


async def stream_file(
    url: str,
    path: Path,
    *,
    speed: float = 1.0,
    frame_ms: int = 20,
    configure: dict[str, Any] | None = None,
    tail_silence_s: float = 1.0,
    limit_s: float = 120.0,
) -> Transcript:
    """Send ``path`` as PCM16 frames at ``speed`` × real time over Theo's protocol; return every event."""
    data, rate = pcm16(path)
    data += bytes(int(rate * tail_silence_s) * 2)
    result = Transcript()
    async with websockets.connect(f"{url}/v1/realtime?sample_rate={rate}", max_size=None) as ws:
        started = time.monotonic()

        async def reader() -> None:
            async for message in ws:
                if isinstance(message, bytes):
                    continue
                event = json.loads(message)
                result.events.append((time.monotonic() - started, event))
                if event["type"] == "session.closed":
                    return

        reading = asyncio.create_task(reader())
        if configure:
            await ws.send(json.dumps({"type": "session.configure", **configure}))
        frame = rate * frame_ms // 1000 * 2
        for i in range(0, len(data), frame):
            await ws.send(data[i : i + frame])
            # pace against the clock, not per sleep, so the stream stays at speed over long files
            ahead = (i / 2 / rate) / speed - (time.monotonic() - started)
            if ahead > 0:
                await asyncio.sleep(ahead)
        await ws.send(json.dumps({"type": "session.close"}))
        await asyncio.wait_for(reading, limit_s)
    return result
