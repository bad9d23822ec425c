"""``theo transcribe`` / ``theo translate``: in-process by default, or against a server with --server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import typer

from theo_rtc.backends.types import Task
from theo_rtc.cli.output import console, fail, fail_on
from theo_rtc.errors import TheoError


def _run(
    file: Path,
    *,
    task: Task,
    model: str | None,
    language: str | None,
    fmt: str,
    prompt: str | None,
    hot_words: str | None,
    itn: bool,
    server: str | None,
) -> None:
    from theo_rtc.stt import ResponseFormat

    try:
        response_format = ResponseFormat(fmt)
    except ValueError:
        fail(f"unknown format {fmt!r}; use one of: {', '.join(f.value for f in ResponseFormat)}")
    if not file.is_file():
        fail(f"no such file: {file}")
    if server:
        _remote(file, task, model, language, response_format.value, prompt, hot_words, itn, server)
        return
    try:
        output = asyncio.run(_local(file, task, model, language, response_format, prompt, hot_words, itn))
    except TheoError as exc:
        fail_on(exc)
    console.print(output, markup=False, highlight=False, soft_wrap=True)


async def _local(
    file: Path,
    task: Task,
    model: str | None,
    language: str | None,
    fmt: object,
    prompt: str | None,
    hot_words: str | None,
    itn: bool,
) -> str:
    from theo_rtc.runtime import TheoRuntime
    from theo_rtc.stt import ResponseFormat, TranscriptionRequest, render

    assert isinstance(fmt, ResponseFormat)
    async with TheoRuntime() as runtime:
        if task is Task.TRANSLATE and model is None:
            model = "whisper-base"
        request = TranscriptionRequest(
            model=model or runtime.settings.default_stt_model,
            task=task,
            language=language,
            prompt=prompt,
            word_timestamps=fmt is ResponseFormat.VERBOSE_JSON,
            hot_words=tuple(w.strip() for w in (hot_words or "").split(",") if w.strip()),
            postprocess={"itn": itn} | ({"language": language} if language else {}),
        )
        runtime.store.get(request.model)
        audio = await runtime.transcriptions.load_audio(file)
        result = await runtime.transcriptions.transcribe(audio, request)
        body = render(result, fmt, words=fmt is ResponseFormat.VERBOSE_JSON)
        return json.dumps(body, ensure_ascii=False, indent=2) if isinstance(body, dict) else body.rstrip("\n")


def _remote(
    file: Path,
    task: Task,
    model: str | None,
    language: str | None,
    fmt: str,
    prompt: str | None,
    hot_words: str | None,
    itn: bool,
    server: str,
) -> None:
    endpoint = "translations" if task is Task.TRANSLATE else "transcriptions"
    data: dict[str, str] = {
        "model": model or ("whisper-base" if task is Task.TRANSLATE else "whisper-tiny.en"),
        "response_format": fmt,
    }
    if language and task is Task.TRANSCRIBE:
        data["language"] = language
    if prompt:
        data["prompt"] = prompt
    if hot_words and task is Task.TRANSCRIBE:
        data["hot_words"] = hot_words
    if not itn and task is Task.TRANSCRIBE:
        data["itn"] = "false"
    if fmt == "verbose_json":
        data["timestamp_granularities[]"] = "word"
    try:
        with file.open("rb") as f:
            response = httpx.post(
                f"{server.rstrip('/')}/v1/audio/{endpoint}",
                data=data,
                files={"file": (file.name, f)},
                timeout=None,
            )
    except httpx.HTTPError as exc:
        fail(f"cannot reach {server}: {exc}")
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError):
            message = response.text
        fail(f"server answered {response.status_code}: {message}")
    text = (
        response.text
        if not fmt.endswith("json")
        else json.dumps(response.json(), ensure_ascii=False, indent=2)
    )
    console.print(text.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)


_FORMAT_HELP = "Output format: text, json, verbose_json, srt, vtt."


def register(app: typer.Typer) -> None:
    @app.command()
    def transcribe(
        file: Path = typer.Argument(
            None,
            help="Audio file (wav, flac, mp3, ogg/opus, m4a, webm, ...); omit with --stream for the mic.",
        ),
        model: str = typer.Option(None, "--model", "-m", help="STT model (default: THEO_DEFAULT_STT_MODEL)."),
        language: str = typer.Option(
            None, "--language", "-l", help="Language code, e.g. en, pt. Default: detect."
        ),
        fmt: str = typer.Option("text", "--format", "-f", help=_FORMAT_HELP),
        prompt: str = typer.Option(None, "--prompt", help="Text that conditions the decoder."),
        hot_words: str = typer.Option(
            None, "--hot-words", help='Comma-separated words to favour: "PIX,TED,Selic".'
        ),
        itn: bool = typer.Option(True, "--itn/--no-itn", help="Inverse text normalisation of numbers etc."),
        server: str = typer.Option(
            None, "--server", help="Use a running server (e.g. http://127.0.0.1:8000)."
        ),
        stream: bool = typer.Option(
            False,
            "--stream",
            help="Live: partials and finals as the audio plays (file at real-time pace, or mic).",
        ),
        speed: float = typer.Option(
            1.0, "--speed", min=0.1, max=100.0, help="With --stream: pace x real time."
        ),
    ) -> None:
        """Transcribe an audio file (batch), or live with --stream. In-process unless --server is given."""
        if stream:
            from theo_rtc.cli.stream import run_stream

            config: dict[str, object] = {"language": language, "prompt": prompt, "itn": itn}
            if model:
                config["model"] = model
            if hot_words:
                config["hot_words"] = [w.strip() for w in hot_words.split(",") if w.strip()]
            run_stream(
                file, server=server, speed=speed, config={k: v for k, v in config.items() if v is not None}
            )
            return
        if file is None:
            fail("give an audio FILE (or --stream to use the microphone)")
        _run(
            file,
            task=Task.TRANSCRIBE,
            model=model,
            language=language,
            fmt=fmt,
            prompt=prompt,
            hot_words=hot_words,
            itn=itn,
            server=server,
        )

    @app.command()
    def translate(
        file: Path = typer.Argument(..., help="Audio file in any language."),
        model: str = typer.Option(
            None, "--model", "-m", help="Multilingual STT model (default: whisper-base)."
        ),
        fmt: str = typer.Option("text", "--format", "-f", help=_FORMAT_HELP),
        prompt: str = typer.Option(None, "--prompt", help="Text that conditions the decoder."),
        server: str = typer.Option(
            None, "--server", help="Use a running server (e.g. http://127.0.0.1:8000)."
        ),
    ) -> None:
        """Translate speech to English text."""
        _run(
            file,
            task=Task.TRANSLATE,
            model=model,
            language=None,
            fmt=fmt,
            prompt=prompt,
            hot_words=None,
            itn=True,
            server=server,
        )
