"""``theo transcribe --stream``: live transcription of a file at real-time pace, or of the microphone.

In-process it drives a :class:`StreamingSession` directly (the same core the server uses); with
``--server`` it speaks Theo's realtime WebSocket protocol.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np

from theo_rtc.backends.types import AudioArray
from theo_rtc.cli.output import console, err_console, fail

FRAME_MS = 20


class LiveRenderer:
    """Prints finals as lines; the partial in progress is redrawn in place on a terminal."""

    def __init__(self, *, show_partials: bool) -> None:
        self.show_partials = show_partials and console.is_terminal
        self.finals: list[str] = []
        self._partial_shown = False

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "transcript.partial" and self.show_partials:
            text = " ".join(t for t in (event.get("text"), event.get("unconfirmed")) if t)
            console.print(f"\r\x1b[2K[dim]{text}[/]", end="", highlight=False, markup=True)
            self._partial_shown = True
        elif kind == "transcript.final":
            if self._partial_shown:
                console.print("\r\x1b[2K", end="")
                self._partial_shown = False
            console.print(event["text"], highlight=False, markup=False)
            self.finals.append(event["text"])
        elif kind == "error":
            err_console.print(f"[yellow]{event.get('code')}:[/] {event.get('message')}")


async def file_frames(path: Path, speed: float) -> tuple[int, AsyncIterator[AudioArray]]:
    from theo_rtc.preprocessing import decode_audio

    decoded = await asyncio.to_thread(decode_audio, path)
    rate = decoded.sample_rate
    frame = rate * FRAME_MS // 1000

    async def frames() -> AsyncIterator[AudioArray]:
        started = time.monotonic()
        samples = np.concatenate([decoded.samples, np.zeros(rate, np.float32)])  # a second to end the turn
        for i in range(0, len(samples), frame):
            yield samples[i : i + frame]
            ahead = (i + frame) / rate / speed - (time.monotonic() - started)
            if ahead > 0:
                await asyncio.sleep(ahead)

    return rate, frames()


async def microphone_frames() -> tuple[int, AsyncIterator[AudioArray]]:
    try:
        import sounddevice
    except (ImportError, OSError):
        fail("no microphone support: `pip install sounddevice` (needs PortAudio) or pass a FILE")
    try:
        device = sounddevice.query_devices(kind="input")
    except Exception as exc:  # PortAudioError when there is no input device
        fail(f"no input device found: {exc}")
    rate = int(device["default_samplerate"])
    queue: asyncio.Queue[AudioArray] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def callback(data: np.ndarray, frames: int, when: object, status: object) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, data[:, 0].copy())

    async def frames() -> AsyncIterator[AudioArray]:
        with sounddevice.InputStream(
            samplerate=rate, channels=1, dtype="float32", callback=callback, blocksize=rate * FRAME_MS // 1000
        ):
            err_console.print("[green]listening — Ctrl+C to stop[/]")
            while True:
                yield await queue.get()

    return rate, frames()


async def stream_in_process(
    source: tuple[int, AsyncIterator[AudioArray]], config: dict[str, Any], renderer: LiveRenderer
) -> None:
    from theo_rtc.runtime import TheoRuntime
    from theo_rtc.session import SessionConfig, StreamingSession

    rate, frames = source

    class Output:
        async def send_event(self, event: dict[str, Any]) -> None:
            renderer(event)

        async def send_audio(self, pcm16: bytes, sample_rate: int) -> None:
            pass

    async with TheoRuntime() as runtime:
        config = {"model": runtime.settings.default_stt_model, **config, "sample_rate": rate}
        session = StreamingSession(runtime, Output(), SessionConfig.model_validate(config))
        await session.start()
        try:
            async for frame in frames:
                session.push_audio(frame)
        finally:
            await session.close("end of input")


async def stream_to_server(
    server: str, source: tuple[int, AsyncIterator[AudioArray]], config: dict[str, Any], renderer: LiveRenderer
) -> None:
    import websockets

    rate, frames = source
    url = server.rstrip("/").replace("http://", "ws://").replace("https://", "wss://") + "/v1/realtime"
    async with websockets.connect(f"{url}?sample_rate={rate}", max_size=None) as ws:

        async def reader() -> None:
            async for message in ws:
                if isinstance(message, str):
                    event = json.loads(message)
                    renderer(event)
                    if event["type"] == "session.closed":
                        return

        reading = asyncio.create_task(reader())
        if config:
            await ws.send(json.dumps({"type": "session.configure", **config}))
        async for frame in frames:
            await ws.send((np.clip(frame, -1, 1) * 32767).astype("<i2").tobytes())
        await ws.send(json.dumps({"type": "session.close"}))
        await reading


def run_stream(file: Path | None, *, server: str | None, speed: float, config: dict[str, Any]) -> None:
    if file is not None and not file.is_file():
        fail(f"no such file: {file}")
    renderer = LiveRenderer(show_partials=True)

    async def main() -> None:
        source = await (file_frames(file, speed) if file is not None else microphone_frames())
        if server:
            await stream_to_server(server, source, config, renderer)
        else:
            await stream_in_process(source, config, renderer)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        fail(f"cannot reach {server}: {exc}")
