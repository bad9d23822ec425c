"""``x-request-id`` on every REST response as OpenAI sends it (the SDK's ``_request_id``), echoed if given."""

from __future__ import annotations

import re

import httpx
import openai
import pytest

from bench.evalsets import EVAL_ROOT

GENERATED = re.compile(r"req_[0-9a-f]{32}")


@pytest.fixture(scope="module")
def short_utterance() -> bytes:
    return (EVAL_ROOT / "librivox_pocketsphinx_en" / "goforward.wav").read_bytes()


def test_sdk_sees_a_request_id_on_transcriptions_and_speech(
    client: openai.OpenAI, short_utterance: bytes
) -> None:
    result = client.audio.transcriptions.create(model="whisper-1", file=("a.wav", short_utterance))
    assert result.text and GENERATED.fullmatch(result._request_id or ""), result._request_id
    other = client.audio.transcriptions.create(model="whisper-1", file=("a.wav", short_utterance))
    assert other._request_id != result._request_id
    speech = client.audio.speech.with_raw_response.create(
        model="espeak-ng", voice="alloy", input="Hello there.", response_format="pcm"
    )
    assert GENERATED.fullmatch(speech.headers["x-request-id"])
    assert speech.parse().content  # the audio itself is untouched


def test_errors_carry_it_too(client: openai.OpenAI, http: httpx.Client) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.audio.transcriptions.create(model="whisper-none", file=("a.wav", b"RIFF"))
    assert GENERATED.fullmatch(missing.value.request_id or "")
    for response in (
        http.post("/v1/audio/speech", json={"model": "tts-1", "voice": "alloy"}),  # 400: no input
        http.get("/v1/no-such-route"),  # 404
        http.get("/health"),
        http.get("/v1/models"),
    ):
        assert GENERATED.fullmatch(response.headers["x-request-id"]), (response.url, response.headers)


def test_an_incoming_id_is_echoed_and_a_bad_one_replaced(http: httpx.Client) -> None:
    assert http.get("/v1/models", headers={"x-request-id": "trace-42/abc"}).headers["x-request-id"] == (
        "trace-42/abc"
    )
    for bad in ("has space", "x" * 129, ""):
        echoed = http.get("/v1/models", headers={"x-request-id": bad}).headers["x-request-id"]
        assert GENERATED.fullmatch(echoed), (bad, echoed)
    response = http.get("/v1/models", headers={"x-request-id": "a"})
    assert response.headers.get_list("x-request-id") == ["a"]  # once, not doubled by any layer
