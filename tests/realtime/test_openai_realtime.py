"""The official openai SDK's realtime client against Theo's transcription sessions (intent=transcription)."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import openai
import pytest

from bench.evalsets import load_set, normalize, wer
from tests.conftest import RunningServer
from tests.realtime.helpers import pcm16


def sdk(server: RunningServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)


def transcription_session(turn_detection: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "type": "transcription",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
                "turn_detection": turn_detection,
            }
        },
    }


async def collect(connection: Any, until: str, count: int = 1, limit_s: float = 60) -> list[Any]:
    events = []
    async with asyncio.timeout(limit_s):
        async for event in connection:
            events.append(event)
            if sum(e.type == until for e in events) >= count:
                return events
    return events


async def send_audio(connection: Any, data: bytes, chunk: int = 4800, pace_s: float = 0.02) -> None:
    for i in range(0, len(data), chunk):
        await connection.input_audio_buffer.append(audio=base64.b64encode(data[i : i + chunk]).decode())
        await asyncio.sleep(pace_s)


async def test_server_vad_transcription_with_the_official_sdk(server: RunningServer) -> None:
    utt = load_set("librivox_pocketsphinx_en")[0]  # 7 s without a pause long enough to end the turn
    data, _ = pcm16(utt.path, 24000)
    data += bytes(24000 * 2)  # a second of silence ends the turn
    async with sdk(server).realtime.connect(extra_query={"intent": "transcription"}, max_retries=0) as conn:
        created = await conn.recv()
        assert created.type == "session.created"
        await conn.session.update(
            session=transcription_session({"type": "server_vad", "silence_duration_ms": 500})
        )
        sender = asyncio.create_task(send_audio(conn, data, pace_s=0.1))  # 100 ms chunks at real time
        events = await collect(conn, "conversation.item.input_audio_transcription.completed")
        await sender
    types = [e.type for e in events]
    assert types[0] == "session.updated"
    assert events[0].session.audio.input.format.rate == 24000
    order = [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.input_audio_transcription.completed",
    ]
    positions = [types.index(t) for t in order]
    assert positions == sorted(positions), types
    assert "conversation.item.input_audio_transcription.delta" in types
    completed = next(e for e in events if e.type == "conversation.item.input_audio_transcription.completed")
    committed = next(e for e in events if e.type == "input_audio_buffer.committed")
    assert completed.item_id == committed.item_id
    deltas = "".join(
        e.delta for e in events if e.type.endswith("transcription.delta") and e.item_id == completed.item_id
    )
    # Deltas are provisional (LocalAgreement-confirmed); the completed transcript is the final decode.
    assert deltas and set(normalize(deltas).split()) <= set(normalize(completed.transcript).split())
    assert wer([utt.text], [completed.transcript]) <= 0.15, completed.transcript


async def test_manual_commit_without_turn_detection(server: RunningServer) -> None:
    utt = load_set("librivox_pocketsphinx_en")[1]
    data, _ = pcm16(utt.path, 24000)
    async with sdk(server).realtime.connect(extra_query={"intent": "transcription"}, max_retries=0) as conn:
        await conn.recv()
        await conn.session.update(session=transcription_session(None))
        await send_audio(conn, data, pace_s=0.005)
        await conn.input_audio_buffer.commit()
        events = await collect(conn, "conversation.item.input_audio_transcription.completed")
    types = [e.type for e in events]
    assert "input_audio_buffer.speech_started" not in types  # no server VAD events when it is off
    assert "input_audio_buffer.committed" in types
    # tiny.en hears "old-sposed" for "ill disposed" here in batch too (WER 0.25 on these 7 words)
    assert wer([utt.text], [events[-1].transcript]) <= 0.3, events[-1].transcript


async def test_beta_event_names_and_errors(server: RunningServer) -> None:
    async with sdk(server).realtime.connect(extra_query={"intent": "transcription"}, max_retries=0) as conn:
        await conn.recv()
        await conn.send(
            {
                "type": "transcription_session.update",  # type: ignore[arg-type,typeddict-item]
                "session": {
                    "input_audio_format": "pcm16",
                    "input_audio_transcription": {"model": "whisper-1", "language": "en"},
                    "turn_detection": {"type": "server_vad"},
                },
            }
        )
        assert (await conn.recv()).type == "transcription_session.updated"
        await conn.send({"type": "response.create"})  # type: ignore[arg-type,typeddict-item]
        error = await conn.recv()
        assert error.type == "error" and error.error.code == "unknown_event"
        await conn.send({"type": "input_audio_buffer.append", "audio": "%%%not-base64"})  # type: ignore[arg-type,typeddict-item]
        assert (await conn.recv()).error.param == "audio"
        await conn.input_audio_buffer.commit()
        assert "buffer too small" in (await conn.recv()).error.message
        await conn.session.update(session={"type": "realtime"})  # type: ignore[typeddict-item]
        assert (await conn.recv()).error.param == "session.type"
        await conn.session.update(
            session=transcription_session(None)
            | {"audio": {"input": {"transcription": {"model": "whisper-nonexistent"}}}}
        )
        assert (await conn.recv()).error.param == "session.model"
        await conn.input_audio_buffer.clear()
        assert (await conn.recv()).type == "input_audio_buffer.cleared"


@pytest.mark.parametrize("intent", ["transcription"])
async def test_binary_frames_are_refused_in_the_openai_dialect(server: RunningServer, intent: str) -> None:
    import json

    import websockets

    url = server.url.replace("http", "ws") + f"/v1/realtime?intent={intent}"
    async with websockets.connect(url) as ws:
        await ws.recv()
        await ws.send(bytes(640))
        error = json.loads(await ws.recv())
        assert error["type"] == "error" and error["error"]["param"] == "audio"
