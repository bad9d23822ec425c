"""OpenAI-compatible ``POST /v1/audio/speech`` and Theo's ``GET /v1/audio/voices``."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from theo_rtc.errors import InvalidRequestError, TheoError
from theo_rtc.runtime import TheoRuntime
from theo_rtc.tts.encode import RESPONSE_FORMATS, content_type, encode_stream
from theo_rtc.tts.service import MAX_INPUT_CHARS, SpeechRequest, SpeechStream

router = APIRouter(tags=["audio"])

_FORMATS = ", ".join(RESPONSE_FORMATS)


class VoiceRef(BaseModel):
    """OpenAI's custom-voice form ``{"id": "..."}``; any installed voice id works here."""

    id: str


class SpeechBody(BaseModel):
    # Fields OpenAI may add later must not break existing clients: unknown ones are ignored.
    model_config = ConfigDict(extra="ignore")

    model: str = Field(
        description="Installed TTS model (kokoro-82m, piper-en-joe, espeak-ng) or an OpenAI name "
        "(tts-1, tts-1-hd, gpt-4o-mini-tts), which uses the best installed model."
    )
    input: str = Field(description=f"Text to speak, at most {MAX_INPUT_CHARS} characters.")
    voice: str | VoiceRef = Field(
        default="",
        description="OpenAI voice name (alloy, nova, onyx, ...) mapped to an installed voice, or a native "
        "voice id (pf_dora, pm_alex, af_heart, en-us); see GET /v1/audio/voices. Default: the model's.",
    )
    instructions: str | None = Field(default=None, description="Accepted and ignored (no engine uses it).")
    response_format: str = Field(default="mp3", description=f"One of {_FORMATS}.")
    speed: float = Field(default=1.0, description="0.25 to 4.0; engines clamp to their own range.")
    stream_format: Literal["audio", "sse"] = Field(
        default="audio",
        description="audio: the encoded file, streamed as it is synthesized; sse: speech.audio.delta "
        "events with base64 chunks of that file, then speech.audio.done.",
    )
    language: str | None = Field(
        default=None, description="Theo: language for OpenAI voice names (pt, en); default: guessed."
    )


def _runtime(request: Request) -> TheoRuntime:
    runtime: TheoRuntime = request.app.state.runtime
    return runtime


@router.post(
    "/v1/audio/speech",
    summary="Text to speech (OpenAI-compatible), streamed while it is synthesized",
    response_class=StreamingResponse,
)
async def create_speech(request: Request, body: SpeechBody) -> Response:
    voice = body.voice.id if isinstance(body.voice, VoiceRef) else body.voice
    speech = SpeechRequest(
        model=body.model,
        input=body.input,
        voice=voice.strip(),
        response_format=body.response_format,
        speed=body.speed,
        language=body.language or None,
    )
    # Waits for the first audio chunk, so an unknown voice or a dead worker is still a real error status.
    stream = await _runtime(request).speech.open(speech)
    headers = {"Cache-Control": "no-cache", "X-Theo-Model": stream.model}
    if body.stream_format == "sse":
        return StreamingResponse(
            _sse(stream, body.response_format), media_type="text/event-stream", headers=headers
        )
    return StreamingResponse(
        encode_stream(body.response_format, stream),
        media_type=content_type(body.response_format),
        headers=headers,
    )


async def _sse(stream: SpeechStream, fmt: str) -> AsyncIterator[str]:
    """OpenAI's events: ``speech.audio.delta`` (base64 audio in ``fmt``), then ``speech.audio.done``."""
    try:
        async for data in encode_stream(fmt, stream):
            yield _event({"type": "speech.audio.delta", "audio": base64.b64encode(data).decode("ascii")})
        # Theo does not tokenize: usage is reported as zeros so clients that read it keep working.
        usage = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
        yield _event({"type": "speech.audio.done", "usage": usage})
    except TheoError as exc:
        yield _event({"type": "error", **exc.to_dict()})


def _event(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload)}\n\n"


@router.get("/v1/audio/voices", summary="Voices of each text-to-speech model, with their language")
async def list_voices(
    request: Request,
    model: Annotated[
        str | None, Query(description="One model (or an OpenAI alias); default: every TTS model")
    ] = None,
) -> dict[str, Any]:
    runtime = _runtime(request)
    if model is not None and not model.strip():
        raise InvalidRequestError("model must not be empty", param="model")
    listing = await runtime.speech.voices(model)
    return {
        "object": "list",
        "data": [
            {
                "model": m.model,
                "engine": m.engine,
                "voices": [
                    {"id": v.id, "name": v.name, "language": v.language, "gender": v.gender} for v in m.voices
                ],
            }
            | ({"error": m.error} if m.error else {})
            for m in listing
        ],
    }
