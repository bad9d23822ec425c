"""Finding 4 (issue 14): the official openai SDK with ``api_key=<key>`` works against an authenticated Theo,
on REST and on ``client.realtime.connect`` (transcription dialect); with a wrong key it gets OpenAI's
errors (AuthenticationError; a refused handshake it does not retry)."""

from __future__ import annotations

import openai
import pytest
import websockets

from bench.evalsets import load_set, wer
from tests.conftest import RunningServer
from tests.realtime.helpers import pcm16
from tests.realtime.test_openai_realtime import collect, send_audio, transcription_session
from tests.security.conftest import FILE_KEY, KEY

UTTERANCE = load_set("librivox_pocketsphinx_en")[0]


def test_rest_with_the_key(auth_server: RunningServer) -> None:
    client = openai.OpenAI(base_url=f"{auth_server.url}/v1", api_key=KEY, max_retries=0, timeout=120)
    assert any(m.id == "whisper-tiny.en" for m in client.models.list())
    with UTTERANCE.path.open("rb") as f:
        text = client.audio.transcriptions.create(model="whisper-1", file=f).text
    assert wer([UTTERANCE.text], [text]) <= 0.15, text
    wrong = openai.OpenAI(base_url=f"{auth_server.url}/v1", api_key="sk-nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as refused:
        wrong.models.list()
    assert refused.value.code == "invalid_api_key"


async def test_realtime_transcription_with_the_key(auth_server: RunningServer) -> None:
    data, _ = pcm16(UTTERANCE.path, 24000)
    client = openai.AsyncOpenAI(base_url=f"{auth_server.url}/v1", api_key=FILE_KEY, max_retries=0)
    async with client.realtime.connect(model="gpt-4o-transcribe", max_retries=0) as conn:
        created = await conn.recv()
        assert created.type == "session.created" and created.session.type == "transcription"
        await conn.session.update(session=transcription_session(None))  # type: ignore[arg-type]
        assert (await conn.recv()).type == "session.updated"
        await send_audio(conn, data, pace_s=0.005)
        await conn.input_audio_buffer.commit()
        events = await collect(conn, "conversation.item.input_audio_transcription.completed")
    transcript = events[-1].transcript
    assert wer([UTTERANCE.text], [transcript]) <= 0.15, transcript


async def test_realtime_with_a_wrong_key_is_refused_once(auth_server: RunningServer) -> None:
    client = openai.AsyncOpenAI(base_url=f"{auth_server.url}/v1", api_key="sk-nope", max_retries=0)
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        async with client.realtime.connect(model="gpt-4o-transcribe", max_retries=3) as conn:
            await conn.recv()
    assert refused.value.response.status_code == 401
