"""OpenAI-compatible ``POST /v1/audio/transcriptions`` and ``/v1/audio/translations``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from theo_rtc.backends.types import Task
from theo_rtc.errors import InvalidRequestError, TheoError, UploadTooLargeError
from theo_rtc.postprocessing import HotWordsError, parse_hot_words
from theo_rtc.runtime import TheoRuntime
from theo_rtc.stt import CONTENT_TYPES, ResponseFormat, TranscriptionRequest, render

router = APIRouter(tags=["audio"])

_FORMATS = ", ".join(f.value for f in ResponseFormat)


def _runtime(request: Request) -> TheoRuntime:
    runtime: TheoRuntime = request.app.state.runtime
    return runtime


def _parse_format(value: str) -> ResponseFormat:
    try:
        return ResponseFormat(value)
    except ValueError:
        raise InvalidRequestError(
            f"unsupported response_format {value!r}; use one of {_FORMATS}", param="response_format"
        ) from None


def _hot_words(value: str | None) -> tuple[str, ...]:
    try:
        return parse_hot_words(value, strict=True)
    except HotWordsError as exc:
        raise InvalidRequestError(str(exc), param="hot_words", code="invalid_value") from None


async def _read_upload(request: Request, file: UploadFile) -> bytes:
    limit = _runtime(request).settings.max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise UploadTooLargeError(f"the upload exceeds the {limit / 2**20:g} MB limit", param="file")
    return data


async def _handle(
    request: Request,
    *,
    task: Task,
    file: UploadFile,
    model: str,
    language: str | None,
    prompt: str | None,
    response_format: str,
    temperature: float,
    granularities: list[str],
    stream: bool,
    hot_words: str | None,
    postprocess: dict[str, object],
) -> Response:
    fmt = _parse_format(response_format)
    if not 0.0 <= temperature <= 1.0:
        raise InvalidRequestError("temperature must be between 0 and 1", param="temperature")
    unknown = set(granularities) - {"word", "segment"}
    if unknown:
        raise InvalidRequestError(
            f"unsupported timestamp_granularities {sorted(unknown)}; use word and/or segment",
            param="timestamp_granularities",
        )
    words_to_favour = _hot_words(hot_words)
    runtime = _runtime(request)
    model = runtime.transcriptions.resolve_model(model, task)
    runtime.store.get(model)  # unknown model -> 404 before any decoding work
    runtime.transcriptions.validate(
        TranscriptionRequest(model=model, hot_words=words_to_favour, postprocess=postprocess)
    )
    data = await _read_upload(request, file)
    audio = await runtime.transcriptions.load_audio(data)
    words = "word" in granularities
    req = TranscriptionRequest(
        model=model,
        task=task,
        language=(language or None) if task is Task.TRANSCRIBE else None,
        prompt=prompt or None,
        temperature=temperature,
        word_timestamps=words,
        hot_words=words_to_favour,
        postprocess=postprocess,
    )
    if stream:
        return StreamingResponse(
            _sse(runtime, audio, req), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )
    result = await runtime.transcriptions.transcribe(audio, req)
    body = render(result, fmt, words=words)
    if isinstance(body, dict):
        return JSONResponse(body)
    return PlainTextResponse(body, media_type=CONTENT_TYPES[fmt])


async def _sse(runtime: TheoRuntime, audio: object, req: TranscriptionRequest) -> AsyncIterator[str]:
    """OpenAI's streaming transcription events: ``transcript.text.delta`` per segment, then ``.done``."""
    texts: list[str] = []
    try:
        async for _info, segment in runtime.transcriptions.segments(audio, req):  # type: ignore[arg-type]
            if segment is None:
                continue
            delta = segment.text if texts else segment.text.lstrip()
            texts.append(delta)
            yield _event({"type": "transcript.text.delta", "delta": delta})
        yield _event({"type": "transcript.text.done", "text": "".join(texts).strip()})
    except TheoError as exc:
        yield _event({"type": "error", **exc.to_dict()})


def _event(payload: dict[str, object]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


@router.post("/v1/audio/transcriptions", summary="Transcribe audio (OpenAI-compatible)")
async def create_transcription(
    request: Request,
    file: Annotated[
        UploadFile, File(description="Audio in any common container: wav, flac, mp3, ogg, m4a, webm")
    ],
    model: Annotated[str, Form(description="Installed STT model, e.g. whisper-tiny.en")],
    language: Annotated[str | None, Form(description="ISO-639-1 code; omitted = detect")] = None,
    prompt: Annotated[
        str | None, Form(description="Text to condition the decoder (style, vocabulary)")
    ] = None,
    response_format: Annotated[str, Form(description=f"One of {_FORMATS}")] = "json",
    temperature: Annotated[float, Form(ge=0.0, le=1.0)] = 0.0,
    timestamp_granularities: Annotated[list[str] | None, Form(alias="timestamp_granularities[]")] = None,
    stream: Annotated[bool, Form(description="Server-Sent Events with transcript.text.delta/done")] = False,
    hot_words: Annotated[str | None, Form(description="Theo: comma-separated domain words to favour")] = None,
    itn: Annotated[bool | None, Form(description="Theo: inverse text normalisation on/off")] = None,
    domain: Annotated[
        str | None, Form(description="Theo: entity formatting domain (banking, telecom, generic)")
    ] = None,
) -> Response:
    return await _handle(
        request,
        task=Task.TRANSCRIBE,
        file=file,
        model=model,
        language=language,
        prompt=prompt,
        response_format=response_format,
        temperature=temperature,
        granularities=timestamp_granularities or [],
        stream=stream,
        hot_words=hot_words,
        postprocess=_postprocess_options(itn, domain, language),
    )


@router.post("/v1/audio/translations", summary="Translate speech to English text (OpenAI-compatible)")
async def create_translation(
    request: Request,
    file: Annotated[UploadFile, File()],
    model: Annotated[str, Form()],
    prompt: Annotated[str | None, Form()] = None,
    response_format: Annotated[str, Form()] = "json",
    temperature: Annotated[float, Form(ge=0.0, le=1.0)] = 0.0,
) -> Response:
    return await _handle(
        request,
        task=Task.TRANSLATE,
        file=file,
        model=model,
        language=None,
        prompt=prompt,
        response_format=response_format,
        temperature=temperature,
        granularities=[],
        stream=False,
        hot_words=None,
        postprocess=_postprocess_options(None, None, "en"),
    )


def _postprocess_options(itn: bool | None, domain: str | None, language: str | None) -> dict[str, object]:
    options: dict[str, object] = {}
    if itn is not None:
        options["itn"] = itn
    if domain:
        options["domain"] = domain
    if language:
        options["language"] = language
    return options
