"""POST /v1/audio/speech and GET /v1/audio/voices through the official OpenAI SDK against a real server."""

from __future__ import annotations

import base64
import io
import json
import threading
from typing import Any

import av
import httpx
import openai
import pytest

from tests.tts.test_encode import decoded_duration, expected_duration
from theo_rtc.tts.encode import CONTENT_TYPES, PCM_SAMPLE_RATE, RESPONSE_FORMATS

SENTENCE = "Hello there, how are you today?"
THREE_SENTENCES = (
    "The first sentence is short. The second sentence takes a little longer to say out loud. "
    "And the third one closes this small paragraph about streaming audio."
)
TOLERANCE = 0.05  # seconds; mp3 keeps < 50 ms of end padding (theo_rtc/tts/encode.py)


def speech(client: openai.OpenAI, **kwargs: Any) -> bytes:
    return client.audio.speech.create(**{"model": "kokoro-82m", "voice": "alloy", **kwargs}).content


def pcm_seconds(data: bytes) -> float:
    return len(data) / 2 / PCM_SAMPLE_RATE


def error_of(exc: openai.APIStatusError) -> dict[str, Any]:
    body = exc.response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    error: dict[str, Any] = body["error"]
    return error


# --- formats -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["kokoro-82m", "espeak-ng"])  # 24 kHz and 22.05 kHz engines
@pytest.mark.parametrize("fmt", RESPONSE_FORMATS)
def test_every_format_decodes_to_the_synthesized_duration(
    client: openai.OpenAI, http: httpx.Client, model: str, fmt: str
) -> None:
    # Kokoro and espeak-ng are deterministic: the raw pcm answer states how long the audio is.
    reference = pcm_seconds(speech(client, model=model, input=SENTENCE, response_format="pcm"))
    assert 1.0 < reference < 5.0
    response = http.post(
        "/v1/audio/speech",
        json={"model": model, "input": SENTENCE, "voice": "alloy", "response_format": fmt},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CONTENT_TYPES[fmt]
    assert response.headers["x-theo-model"] == model
    rate = 24000 if model == "kokoro-82m" or fmt in ("mp3", "opus", "pcm") else 22050
    got = decoded_duration(fmt, response.content, rate)
    assert abs(got - expected_duration(fmt, reference, rate)) <= TOLERANCE, (got, reference)


def test_wav_header_and_pcm_rate(client: openai.OpenAI) -> None:
    wav = speech(client, input=SENTENCE, response_format="wav")
    with av.open(io.BytesIO(wav)) as container:
        stream = container.streams.audio[0]
        assert (stream.codec_context.sample_rate, stream.codec_context.channels) == (24000, 1)
        assert stream.codec_context.name == "pcm_s16le"
    # pcm is OpenAI's raw 24 kHz mono s16le: the same samples as the wav's data chunk.
    assert speech(client, input=SENTENCE, response_format="pcm") == wav[44:]


# --- streaming ---------------------------------------------------------------------------------------


def test_body_starts_while_synthesis_continues(client: openai.OpenAI, http: httpx.Client) -> None:
    """The first audio bytes arrive while the worker is still rendering later sentences."""
    seen_in_flight: list[int] = []
    total = 0
    reads = 0
    with client.audio.speech.with_streaming_response.create(
        model="kokoro-82m", voice="af_heart", input=THREE_SENTENCES, response_format="pcm"
    ) as response:
        assert response.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in response.headers
        for chunk in response.iter_bytes():
            if reads == 0:
                # Ordering, not timing: at first byte the request still holds its worker slot and
                # only part of the audio has been produced.
                workers = http.get("/api/ps").json()["models"]
                seen_in_flight.append(next(w for w in workers if w["model"] == "kokoro-82m")["in_flight"])
                first_len = len(chunk)
            reads += 1
            total += len(chunk)
    assert seen_in_flight == [1]
    assert first_len < total and reads > 1
    assert pcm_seconds(b"\0" * total) > 6.0  # three sentences really came through


def test_sse_stream_format(client: openai.OpenAI) -> None:
    raw = client.audio.speech.create(
        model="kokoro-82m", voice="alloy", input=THREE_SENTENCES, response_format="pcm", stream_format="sse"
    )
    assert raw.response.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in raw.text.splitlines() if line.startswith("data: ")]
    assert [e["type"] for e in events[-1:]] == ["speech.audio.done"]
    assert set(events[-1]["usage"]) == {"input_tokens", "output_tokens", "total_tokens"}
    deltas = events[:-1]
    assert len(deltas) >= 3 and all(e["type"] == "speech.audio.delta" for e in deltas)  # one per sentence
    audio = b"".join(base64.b64decode(e["audio"]) for e in deltas)
    assert audio == speech(client, input=THREE_SENTENCES, response_format="pcm")


def test_sse_in_a_container_format(client: openai.OpenAI) -> None:
    raw = client.audio.speech.create(
        model="espeak-ng", voice="alloy", input=SENTENCE, response_format="mp3", stream_format="sse"
    )
    events = [json.loads(line[6:]) for line in raw.text.splitlines() if line.startswith("data: ")]
    mp3 = b"".join(base64.b64decode(e["audio"]) for e in events if e["type"] == "speech.audio.delta")
    assert decoded_duration("mp3", mp3, 24000) > 1.0


# --- models and voices -------------------------------------------------------------------------------


@pytest.mark.parametrize("alias", ["tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15"])
def test_openai_model_names_use_the_best_installed_model(client: openai.OpenAI, alias: str) -> None:
    response = client.audio.speech.with_raw_response.create(
        model=alias, voice="alloy", input=SENTENCE, response_format="pcm"
    )
    assert response.headers["x-theo-model"] == "kokoro-82m"
    assert response.content == speech(client, model="kokoro-82m", input=SENTENCE, response_format="pcm")


@pytest.mark.parametrize(
    ("request_voice", "language", "native"),
    [
        ("nova", None, "pf_dora"),  # female OpenAI voice, Portuguese guessed from the text
        ("shimmer", "pt", "pf_dora"),
        ("onyx", "pt-BR", "pm_alex"),  # male OpenAI voice
        ("echo", None, "pm_alex"),
        ("PF_DORA", None, "pf_dora"),  # native ids, case-insensitive
        ("pm_alex", None, "pm_alex"),
    ],
)
def test_voice_mapping_portuguese(
    client: openai.OpenAI, request_voice: str, language: str | None, native: str
) -> None:
    text = "Olá, tudo bem com você?"
    extra = {"language": language} if language else {}
    mapped = speech(client, input=text, voice=request_voice, response_format="pcm", extra_body=extra)
    assert mapped == speech(client, input=text, voice=native, response_format="pcm")
    other = "pm_alex" if native == "pf_dora" else "pf_dora"
    assert mapped != speech(client, input=text, voice=other, response_format="pcm")


def test_voice_mapping_english_and_custom_voice_object(client: openai.OpenAI) -> None:
    alloy = speech(client, input=SENTENCE, voice="alloy", response_format="pcm")
    assert alloy == speech(client, input=SENTENCE, voice="af_alloy", response_format="pcm")
    assert alloy != speech(client, input=SENTENCE, voice="onyx", response_format="pcm")
    as_object = speech(client, input=SENTENCE, voice={"id": "af_alloy"}, response_format="pcm")
    assert as_object == alloy


def test_piper_speaks_any_openai_voice(client: openai.OpenAI) -> None:
    pytest.importorskip("theo_plugin_piper", reason="optional GPL plugin not installed")
    for voice in ("alloy", "onyx"):
        wav = speech(client, model="piper-en-joe", voice=voice, input=SENTENCE, response_format="wav")
        assert decoded_duration("wav", wav, 22050) > 1.0


def test_instructions_are_accepted_and_ignored(client: openai.OpenAI) -> None:
    plain = speech(client, input=SENTENCE, response_format="pcm")
    instructed = speech(client, input=SENTENCE, response_format="pcm", instructions="Speak like a pirate.")
    assert instructed == plain


def test_voices_listing(http: httpx.Client) -> None:
    listing = http.get("/v1/audio/voices").json()
    assert listing["object"] == "list"
    by_model = {m["model"]: m for m in listing["data"]}
    assert {"kokoro-82m", "espeak-ng"} <= set(by_model)  # espeak-ng is built in, never pulled
    kokoro = {v["id"]: v for v in by_model["kokoro-82m"]["voices"]}
    assert kokoro["pf_dora"] == {"id": "pf_dora", "name": "Dora", "language": "pt-BR", "gender": "female"}
    assert kokoro["pm_alex"]["language"] == "pt-BR" and kokoro["pm_alex"]["gender"] == "male"
    assert kokoro["af_heart"]["language"] == "en-US"
    espeak = {v["id"] for v in by_model["espeak-ng"]["voices"]}
    assert {"en-us", "pt-br"} <= espeak
    one = http.get("/v1/audio/voices", params={"model": "tts-1"}).json()["data"]
    assert [m["model"] for m in one] == ["kokoro-82m"]
    assert http.get("/v1/audio/voices", params={"model": "nope"}).status_code == 404
    assert http.get("/v1/audio/voices", params={"model": "whisper-tiny.en"}).status_code == 400


# --- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "param", "code"),
    [
        ({"input": ""}, "input", "invalid_request"),
        ({"input": "   \n\t "}, "input", "invalid_request"),
        ({"input": "😀🎉👍 🇧🇷"}, "input", "invalid_request"),
        ({"input": "<speak><break time='1s'/></speak>"}, "input", "invalid_request"),
        ({"input": "x" * 100_000}, "input", "string_above_max_length"),
        ({"input": "y " * 2049}, "input", "string_above_max_length"),  # 4098 characters
        ({"voice": "no-such-voice"}, "voice", "invalid_voice"),
        ({"speed": 0.1}, "speed", "invalid_request"),
        ({"speed": 5}, "speed", "invalid_request"),
        ({"speed": 0}, "speed", "invalid_request"),
        ({"response_format": "ogg"}, "response_format", "invalid_request"),
        ({"response_format": "m4a"}, "response_format", "invalid_request"),
        ({"stream_format": "chunks"}, "stream_format", "invalid_value"),
        ({"model": "whisper-tiny.en"}, "model", "invalid_request"),
    ],
)
def test_bad_input_is_an_openai_error(
    client: openai.OpenAI, kwargs: dict[str, Any], param: str, code: str
) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        speech(client, **{"input": SENTENCE, **kwargs})
    error = error_of(err.value)
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)
    assert error["message"]


def test_too_long_input_says_the_limit(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        speech(client, input="a" * 100_000)
    assert "4096" in error_of(err.value)["message"] and "100000" in error_of(err.value)["message"]


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        speech(client, model="no-such-tts", input=SENTENCE)
    assert error_of(err.value)["code"] == "model_not_found"


def test_malformed_bodies(http: httpx.Client) -> None:
    missing = http.post("/v1/audio/speech", json={"model": "tts-1", "voice": "alloy"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "input"
    broken = http.post("/v1/audio/speech", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 400 and "error" in broken.json()
    wrong_type = http.post("/v1/audio/speech", json={"model": "tts-1", "input": ["a"], "voice": "alloy"})
    assert wrong_type.status_code == 400


def test_limits_are_inclusive(client: openai.OpenAI) -> None:
    # espeak-ng renders 4096 characters in about a second; Kokoro would take minutes.
    longest = speech(client, model="espeak-ng", input=("word " * 820)[:4096], response_format="pcm")
    assert pcm_seconds(longest) > 60
    slow = pcm_seconds(speech(client, model="espeak-ng", input=SENTENCE, speed=0.25, response_format="pcm"))
    fast = pcm_seconds(speech(client, model="espeak-ng", input=SENTENCE, speed=4.0, response_format="pcm"))
    assert slow > 2 * fast  # espeak-ng's own range is 80-500 words per minute


def test_hostile_text_is_spoken_safely(client: openai.OpenAI) -> None:
    hostile = (
        "<speak>Hello <break time='2s'/> <emphasis>world</emphasis></speak> 😀\x00\x07\u202e "
        "<script>alert(1)</script> &amp; goodbye"
    )
    wav = speech(client, input=hostile, response_format="wav")
    heard = client.audio.transcriptions.create(model="whisper-tiny.en", file=("h.wav", wav)).text.lower()
    assert "hello" in heard and "world" in heard and "goodbye" in heard
    for markup in ("speak", "break", "emphasis", "script"):
        assert markup not in heard, heard


def test_server_keeps_serving_after_bad_input(client: openai.OpenAI, http: httpx.Client) -> None:
    statuses: list[int] = []

    def hammer() -> None:
        for kwargs in ({"input": ""}, {"voice": "nobody"}, {"speed": 99}, {"input": "z" * 5000}):
            try:
                speech(client, **{"input": SENTENCE, **kwargs})
                statuses.append(200)
            except openai.APIStatusError as exc:
                statuses.append(exc.status_code)

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [400] * 12
    health = http.get("/health")
    assert health.status_code == 200 and health.json()["components"]["tts"] == "ok (kokoro-82m)"
    assert pcm_seconds(speech(client, input=SENTENCE, response_format="pcm")) > 1.0
    metrics = http.get("/metrics").text
    assert 'theo_tts_requests_total{model="kokoro-82m",status="ok"}' in metrics
    assert "theo_tts_ttfb_seconds_bucket" in metrics
    assert 'theo_tts_audio_seconds_total{model="kokoro-82m"}' in metrics
