"""OpenAI model names on ``WS /v1/realtime`` and what is refused before the upgrade, with the official SDK.

Clients put the model in the URL (``client.realtime.connect(model=...)``, LiveKit's and Pipecat's realtime
STT): every OpenAI transcription name and snapshot gets a transcription session on the default model; a
conversation model (no conversation backend yet), an unknown model or a text-to-speech model is an HTTP
4xx with OpenAI's error body, which the SDK raises once instead of reconnecting.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import openai
import pytest
import websockets
from openai import omit
from openai.types.websocket_reconnection import ReconnectingEvent, ReconnectingOverrides

from bench.evalsets import load_set, wer
from tests.conftest import RunningServer
from tests.realtime.helpers import pcm16
from tests.realtime.test_openai_realtime import collect, sdk, send_audio, transcription_session

TRANSCRIPTION_NAMES = [
    "gpt-4o-transcribe",
    "gpt-4o-mini-transcribe",
    "gpt-realtime-whisper",
    "gpt-transcribe",
    "whisper-1",
    "gpt-4o-mini-transcribe-2025-03-20",
    "gpt-4o-transcribe-latest",
]


@pytest.fixture(scope="module")
def speech() -> tuple[str, bytes]:
    utt = load_set("librivox_pocketsphinx_en")[0]
    data, _ = pcm16(utt.path, 24000)
    return utt.text, data


async def transcribe(conn: Any, data: bytes) -> str:
    """Send ``data`` fast, commit, and return the completed transcript."""
    await send_audio(conn, data, pace_s=0.005)
    await conn.input_audio_buffer.commit()
    events = await collect(conn, "conversation.item.input_audio_transcription.completed")
    assert events and events[-1].type == "conversation.item.input_audio_transcription.completed", events
    return str(events[-1].transcript)


@pytest.mark.parametrize("model", TRANSCRIPTION_NAMES)
async def test_openai_transcription_name_in_the_url(
    server: RunningServer, speech: tuple[str, bytes], model: str
) -> None:
    text, data = speech
    async with sdk(server).realtime.connect(model=model, max_retries=0) as conn:
        created = await conn.recv()
        assert created.type == "session.created" and created.session.type == "transcription"
        session = transcription_session(None)
        session["audio"]["input"]["transcription"]["model"] = model
        await conn.session.update(session=session)  # type: ignore[arg-type]
        assert (await conn.recv()).type == "session.updated"
        transcript = await transcribe(conn, data)
    assert wer([text], [transcript]) <= 0.15, transcript


async def test_beta_names_and_a_conversation_snapshot_with_intent_transcription(
    server: RunningServer, speech: tuple[str, bytes]
) -> None:
    """``intent=transcription`` wins over the URL's model; beta event and field names, a dated snapshot."""
    text, data = speech
    async with sdk(server).realtime.connect(
        model="gpt-4o-realtime-preview-2024-12-17", extra_query={"intent": "transcription"}, max_retries=0
    ) as conn:
        assert (await conn.recv()).type == "session.created"
        await conn.send(
            {
                "type": "transcription_session.update",  # type: ignore[arg-type]
                "session": {
                    "input_audio_format": "pcm16",
                    "input_audio_transcription": {
                        "model": "gpt-4o-mini-transcribe-2025-03-20",
                        "language": "en",
                    },
                    "turn_detection": None,
                },
            }
        )
        assert (await conn.recv()).type == "transcription_session.updated"
        # A conversation model is not a transcription model: an OpenAI-shaped error, the session stays up.
        await conn.send(
            {
                "type": "transcription_session.update",  # type: ignore[arg-type]
                "session": {"input_audio_transcription": {"model": "gpt-realtime"}},
            }
        )
        error = await conn.recv()
        assert error.type == "error" and (error.error.param or "").endswith("model"), error
        transcript = await transcribe(conn, data)
    assert wer([text], [transcript]) <= 0.15, transcript


@pytest.mark.parametrize(
    ("model", "query", "status", "code"),
    [
        ("whisper-none", {"intent": "transcription"}, 404, "model_not_found"),
        ("tts-1", {}, 400, "invalid_request"),
        (None, {"intent": "translation"}, 400, "invalid_request"),
    ],
)
async def test_what_can_never_work_is_refused_before_the_upgrade(
    server: RunningServer, model: str | None, query: dict[str, str], status: int, code: str
) -> None:
    reconnects: list[ReconnectingEvent] = []

    def on_reconnecting(event: ReconnectingEvent) -> ReconnectingOverrides | None:
        reconnects.append(event)
        return None

    probe = f"req_probe_{uuid.uuid4().hex}"
    started = time.monotonic()
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        async with sdk(server).realtime.connect(
            model=model if model is not None else omit,
            extra_query=query,
            extra_headers={"x-request-id": probe},
            on_reconnecting=on_reconnecting,  # reconnection on: a refused upgrade must still not loop
            max_retries=5,
        ) as conn:
            await conn.recv()
    assert time.monotonic() - started < 5
    response = refused.value.response
    assert response.status_code == status
    assert response.headers["x-request-id"] == probe
    assert response.headers["content-type"] == "application/json"
    body = json.loads(response.body)
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == "invalid_request_error" and body["error"]["code"] == code
    assert body["error"]["message"]
    assert not reconnects
    assert server.log().count(probe) == 1  # one attempt reached the server


async def test_openai_dialect_errors_have_openai_shape(server: RunningServer) -> None:
    url = server.url.replace("http", "ws") + "/v1/realtime?model=gpt-4o-transcribe"
    async with websockets.connect(url) as ws:
        assert ws.response is not None and ws.response.headers["x-request-id"].startswith("req_")
        assert json.loads(await ws.recv())["type"] == "session.created"
        await ws.send(json.dumps({"type": "response.create", "event_id": "evt_client_1"}))
        error = json.loads(await ws.recv())
        assert set(error) == {"type", "event_id", "error"} and error["type"] == "error"
        assert error["event_id"].startswith("event_") and error["event_id"] != "evt_client_1"
        assert error["error"] == {
            "type": "invalid_request_error",
            "code": "unknown_event",
            "message": error["error"]["message"],
            "param": "type",
            "event_id": "evt_client_1",
        }
        await ws.send("{not json")
        malformed = json.loads(await ws.recv())
        assert malformed["error"]["code"] == "invalid_json" and malformed["error"]["event_id"] is None
        await ws.send(json.dumps({"type": "input_audio_buffer.clear"}))  # the session is still up
        assert json.loads(await ws.recv())["type"] == "input_audio_buffer.cleared"


async def test_theo_dialect_keeps_its_own_error_shape(server: RunningServer) -> None:
    url = server.url.replace("http", "ws") + "/v1/realtime"
    async with websockets.connect(url) as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"
        await ws.send(json.dumps({"type": "response.create"}))
        error = json.loads(await ws.recv())
    assert error["type"] == "error" and "error" not in error
    assert (error["code"], error["param"], error["recoverable"]) == ("unknown_event", "type", False)


def test_rest_endpoints_take_the_same_names(client: openai.OpenAI) -> None:
    """The alias table is shared: a snapshot and a realtime-only name work on /v1/audio/transcriptions."""
    utt = load_set("librivox_pocketsphinx_en")[0]
    for model in ("gpt-4o-mini-transcribe-2025-03-20", "gpt-realtime-whisper"):
        with utt.path.open("rb") as f:
            result = client.audio.transcriptions.create(model=model, file=f)
        assert wer([utt.text], [result.text]) <= 0.15, (model, result.text)
    # a conversation model does not transcribe files
    with pytest.raises(openai.NotFoundError), utt.path.open("rb") as f:
        client.audio.transcriptions.create(model="gpt-realtime", file=f)
