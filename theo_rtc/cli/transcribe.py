"""``theo transcribe`` / ``theo translate``: in-process by default, or against a server with --server."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import typer

from theo_rtc.backends.types import Task
from theo_rtc.cli.output import console, fail, fail_on
from theo_rtc.errors import TheoError

if TYPE_CHECKING:  # the CLI imports engines lazily so `theo --help` stays instant
    from theo_rtc.stt import ResponseFormat


@dataclass(frozen=True, slots=True)
class _Job:
    """One `theo transcribe` / `theo translate` invocation, the same for in-process and --server runs."""

    file: Path
    task: Task
    model: str  # an installed model, or an OpenAI name ("whisper-1") that resolves to the default
    language: str | None
    fmt: ResponseFormat
    prompt: str | None
    hot_words: tuple[str, ...]
    itn: bool

    @property
    def words(self) -> bool:
        return self.fmt.value == "verbose_json"


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
    from theo_rtc.postprocessing import parse_hot_words
    from theo_rtc.stt import ResponseFormat

    try:
        response_format = ResponseFormat(fmt)
    except ValueError:
        fail(f"unknown format {fmt!r}; use one of: {', '.join(f.value for f in ResponseFormat)}")
    if not file.is_file():
        fail(f"no such file: {file}")
    # No --model: "whisper-1" lets the runtime doing the work pick its default (multilingual to translate).
    job = _Job(
        file,
        task,
        model or "whisper-1",
        language if task is Task.TRANSCRIBE else None,
        response_format,
        prompt,
        parse_hot_words(hot_words) if task is Task.TRANSCRIBE else (),
        itn,
    )
    if server:
        _remote(job, server)
        return
    try:
        output = asyncio.run(_local(job))
    except TheoError as exc:
        fail_on(exc)
    console.print(output, markup=False, highlight=False, soft_wrap=True)


async def _local(job: _Job) -> str:
    from theo_rtc.runtime import TheoRuntime
    from theo_rtc.stt import TranscriptionRequest, render

    async with TheoRuntime() as runtime:
        request = TranscriptionRequest(
            model=runtime.transcriptions.resolve_model(job.model, job.task),
            task=job.task,
            language=job.language,
            prompt=job.prompt,
            word_timestamps=job.words,
            hot_words=job.hot_words,
            postprocess={"itn": job.itn} | ({"language": job.language} if job.language else {}),
        )
        runtime.store.get(request.model)
        audio = await runtime.transcriptions.load_audio(job.file)
        result = await runtime.transcriptions.transcribe(audio, request)
        body = render(result, job.fmt, words=job.words)
        return json.dumps(body, ensure_ascii=False, indent=2) if isinstance(body, dict) else body.rstrip("\n")


def _remote(job: _Job, server: str) -> None:
    endpoint = "translations" if job.task is Task.TRANSLATE else "transcriptions"
    data: dict[str, str] = {"model": job.model, "response_format": job.fmt.value}
    if job.language:
        data["language"] = job.language
    if job.prompt:
        data["prompt"] = job.prompt
    if job.hot_words:
        data["hot_words"] = ",".join(job.hot_words)
    if not job.itn and job.task is Task.TRANSCRIBE:
        data["itn"] = "false"
    if job.words:
        data["timestamp_granularities[]"] = "word"
    try:
        with job.file.open("rb") as f:
            response = httpx.post(
                f"{server.rstrip('/')}/v1/audio/{endpoint}",
                data=data,
                files={"file": (job.file.name, f)},
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
        if not job.fmt.value.endswith("json")
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
                from theo_rtc.postprocessing import parse_hot_words

                config["hot_words"] = list(parse_hot_words(hot_words))
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
