"""``theo speak``: text to speech in-process by default, or against a server with --server."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import typer

from theo_rtc.backends.types import AudioChunk
from theo_rtc.cli.output import err_console, fail, fail_on
from theo_rtc.errors import TheoError
from theo_rtc.tts.encode import PCM_SAMPLE_RATE, RESPONSE_FORMATS, encode_stream

_EXTENSIONS = {
    ".mp3": "mp3",
    ".opus": "opus",
    ".ogg": "opus",
    ".aac": "aac",
    ".flac": "flac",
    ".wav": "wav",
    ".pcm": "pcm",
    ".raw": "pcm",
}


def _pick_format(fmt: str | None, output: Path | None) -> str:
    if fmt:
        if fmt not in RESPONSE_FORMATS:
            fail(f"unknown format {fmt!r}; use one of: {', '.join(RESPONSE_FORMATS)}")
        return fmt
    if output is not None:
        return _EXTENSIONS.get(output.suffix.lower(), "wav")
    return "wav"


class _Player:
    """Plays PCM16 mono through the default output device as it arrives (needs ``sounddevice``)."""

    def __init__(self) -> None:
        try:
            import sounddevice
        except (ImportError, OSError) as exc:  # OSError: the package is there but PortAudio is not
            fail(
                f"--play needs the sounddevice package and PortAudio ({exc}); "
                "`pip install sounddevice`, or write a file with -o"
            )
        try:
            sounddevice.query_devices(kind="output")
        except Exception as exc:  # sounddevice raises a bare PortAudioError/ValueError here
            fail(f"--play: no audio output device ({exc}); write a file with -o instead")
        self._sd = sounddevice
        self._stream: Any = None

    async def write(self, chunk: AudioChunk) -> None:
        if self._stream is None:
            self._stream = self._sd.RawOutputStream(samplerate=chunk.sample_rate, channels=1, dtype="int16")
            self._stream.start()
        await asyncio.to_thread(self._stream.write, chunk.pcm16)  # blocks until the device takes it

    def close(self) -> None:
        if self._stream is not None:
            self._stream.stop()  # drains what is queued
            self._stream.close()


async def _local_chunks(
    text: str, model: str, voice: str, speed: float, language: str | None
) -> AsyncIterator[AudioChunk]:
    from theo_rtc.runtime import TheoRuntime
    from theo_rtc.tts.service import SpeechRequest

    async with TheoRuntime() as runtime:
        request = SpeechRequest(model=model, input=text, voice=voice, speed=speed, language=language)
        stream = await runtime.speech.open(request)
        err_console.print(f"[dim]{stream.model}[/]", highlight=False)
        async with aclosing(stream.__aiter__()) as chunks:
            async for chunk in chunks:
                yield chunk


def _error_message(response: httpx.Response, body: bytes) -> str:
    try:
        return str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return body.decode(errors="replace")[:500]


async def _remote_bytes(server: str, payload: dict[str, Any]) -> AsyncIterator[bytes]:
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(None, connect=10)) as client,
        client.stream("POST", f"{server.rstrip('/')}/v1/audio/speech", json=payload) as response,
    ):
        if response.status_code >= 400:
            fail(
                f"server answered {response.status_code}: {_error_message(response, await response.aread())}"
            )
        err_console.print(
            f"[dim]{response.headers.get('x-theo-model', payload['model'])}[/]", highlight=False
        )
        async for data in response.aiter_bytes():
            yield data


async def _remote_chunks(server: str, payload: dict[str, Any]) -> AsyncIterator[AudioChunk]:
    pending = b""
    async for data in _remote_bytes(server, payload | {"response_format": "pcm"}):
        pending += data
        usable = len(pending) // 2 * 2  # HTTP chunks can split a sample
        if usable:
            yield AudioChunk(pcm16=pending[:usable], sample_rate=PCM_SAMPLE_RATE)
            pending = pending[usable:]


async def _speak(
    *,
    text: str,
    model: str,
    voice: str,
    speed: float,
    language: str | None,
    fmt: str,
    out: BinaryIO | None,
    player: _Player | None,
    server: str | None,
) -> float:
    """Synthesize to ``out`` and/or ``player``; returns the seconds of audio produced."""
    payload: dict[str, Any] = {"model": model, "input": text, "voice": voice, "speed": speed}
    if language:
        payload["language"] = language
    if server and player is None:
        # Straight through: the server already encodes to the wanted format.
        assert out is not None
        total = 0
        async for data in _remote_bytes(server, payload | {"response_format": fmt}):
            out.write(data)
            out.flush()
            total += len(data)
        return -1.0 if fmt != "pcm" else total / 2 / PCM_SAMPLE_RATE

    source = _remote_chunks(server, payload) if server else _local_chunks(text, model, voice, speed, language)
    seconds = 0.0

    async def tee() -> AsyncIterator[AudioChunk]:
        nonlocal seconds
        async for chunk in source:
            seconds += chunk.duration
            if player is not None:
                await player.write(chunk)
            yield chunk

    try:
        if out is None:
            async for _ in tee():
                pass
        else:
            async for data in encode_stream(fmt, tee()):
                out.write(data)
                out.flush()  # a pipe reader (e.g. a player) starts on the first sentence
    finally:
        if player is not None:
            player.close()
    return seconds


def register(app: typer.Typer) -> None:
    @app.command()
    def speak(
        text: str = typer.Argument(..., help='Text to speak (at most 4096 characters); "-" reads stdin.'),
        voice: str = typer.Option(
            "",
            "--voice",
            help="OpenAI name (alloy, nova, onyx, ...) or a native voice (pf_dora, pm_alex, af_heart).",
        ),
        model: str = typer.Option(
            "tts-1",
            "--model",
            "-m",
            help="TTS model; default tts-1 = best installed (kokoro-82m, then piper-en-joe, then espeak-ng).",
        ),
        output: Path = typer.Option(
            None, "--output", "-o", help="Write audio here; without -o, audio goes to stdout if piped."
        ),
        fmt: str = typer.Option(
            None,
            "--format",
            "-f",
            help=f"{', '.join(RESPONSE_FORMATS)}; default: from -o's extension, else wav.",
        ),
        speed: float = typer.Option(1.0, "--speed", help="0.25 to 4.0."),
        language: str = typer.Option(
            None, "--language", "-l", help="Language for OpenAI voice names (pt, en); default: guessed."
        ),
        play: bool = typer.Option(False, "--play", help="Play through the sound device (needs sounddevice)."),
        server: str = typer.Option(
            None, "--server", help="Use a running server (e.g. http://127.0.0.1:8000)."
        ),
    ) -> None:
        """Speak text: write an audio file, pipe it, or play it. Runs the model in-process unless --server."""
        if text == "-":
            text = sys.stdin.read()
        response_format = _pick_format(fmt, output)
        player = _Player() if play else None
        out: BinaryIO | None = None
        if output is not None:
            out = output.open("wb")
        elif player is None:
            if sys.stdout.isatty():
                fail("say where the audio goes: -o FILE, --play, or redirect stdout (theo speak ... > a.wav)")
            out = sys.stdout.buffer
        try:
            seconds = asyncio.run(
                _speak(
                    text=text,
                    model=model,
                    voice=voice,
                    speed=speed,
                    language=language,
                    fmt=response_format,
                    out=out,
                    player=player,
                    server=server,
                )
            )
        except TheoError as exc:
            _discard(output, out)
            fail_on(exc)
        except httpx.HTTPError as exc:
            _discard(output, out)
            fail(f"cannot reach {server}: {exc}")
        except typer.Exit:
            _discard(output, out)
            raise
        if output is not None and out is not None:
            out.close()
            length = f"{seconds:.1f} s, " if seconds >= 0 else ""
            err_console.print(f"wrote {output} ({length}{response_format})", highlight=False)


def _discard(output: Path | None, out: BinaryIO | None) -> None:
    """Do not leave a truncated audio file behind after an error."""
    if output is not None and out is not None:
        out.close()
        output.unlink(missing_ok=True)
