"""Bad input gets an OpenAI-shaped error with the right status, and the server keeps serving."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from bench.evalsets import EVAL_ROOT
from tests.audio_factory import encode

GOOD = (EVAL_ROOT / "librivox_pocketsphinx_en" / "goforward.wav").read_bytes()


def post(http: httpx.Client, data: bytes | None, **fields: str) -> httpx.Response:
    form = {"model": "whisper-tiny.en"} | fields
    files = {"file": ("upload.bin", data)} if data is not None else None
    return http.post("/v1/audio/transcriptions", data=form, files=files)


def assert_error(response: httpx.Response, status: int, code: str, param: str | None = None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code and error["message"]
    assert error["type"] == ("invalid_request_error" if status < 500 else "server_error")
    if param is not None:
        assert error["param"] == param


@pytest.fixture(autouse=True)
def still_serving(http: httpx.Client):  # type: ignore[no-untyped-def]
    yield
    after = post(http, GOOD)
    assert after.status_code == 200 and "forward" in after.json()["text"].lower()


def test_empty_file(http: httpx.Client) -> None:
    assert_error(post(http, b""), 400, "invalid_audio", "file")


def test_random_bytes(http: httpx.Client) -> None:
    assert_error(post(http, os.urandom(64_000)), 400, "invalid_audio", "file")


def test_truncated_header(http: httpx.Client) -> None:
    assert_error(post(http, GOOD[:30]), 400, "invalid_audio", "file")


def test_truncated_file_keeps_what_decoded(http: httpx.Client) -> None:
    flac = encode(np.frombuffer(GOOD[44:], dtype="<i2").astype(np.float32) / 32768, 16000, "flac")
    response = post(http, flac[: len(flac) * 2 // 3])
    assert response.status_code == 200
    assert "go" in response.json()["text"].lower()  # the first two thirds hold "go forward"


def test_tenth_of_a_second(http: httpx.Client) -> None:
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(1600) / 16000)).astype(np.float32)
    response = post(http, encode(tone, 16000, "wav"))
    assert response.status_code == 200
    assert isinstance(response.json()["text"], str)


def test_silence_only(http: httpx.Client) -> None:
    response = post(
        http, encode(np.zeros(16000 * 5, dtype=np.float32), 16000, "wav"), response_format="verbose_json"
    )
    assert response.status_code == 200
    assert response.json()["duration"] == pytest.approx(5.0, abs=0.01)


def test_two_hour_file_is_refused_before_decoding(http: httpx.Client) -> None:
    # 2 h of 8 kHz mono low-bitrate mp3 is ~6 MB: under the upload limit, over the duration limit.
    quiet = np.zeros(8000 * 7200, dtype=np.float32)
    response = post(http, encode(quiet, 8000, "mp3"))
    assert_error(response, 413, "audio_too_long", "file")
    assert "7200" in response.json()["error"]["message"]


def test_upload_over_limit(http: httpx.Client) -> None:
    response = post(http, os.urandom(26 * 1024 * 1024))
    assert_error(response, 413, "file_too_large", "file")


def test_unknown_model(http: httpx.Client) -> None:
    assert_error(post(http, GOOD, model="whisper-huge-v9"), 404, "model_not_found", "model")


def test_model_of_the_wrong_type(http: httpx.Client) -> None:
    assert_error(post(http, GOOD, model="silero-vad"), 400, "invalid_request", "model")


def test_unknown_response_format(http: httpx.Client) -> None:
    assert_error(post(http, GOOD, response_format="xml"), 400, "invalid_request", "response_format")


def test_wrong_field_type(http: httpx.Client) -> None:
    assert_error(post(http, GOOD, temperature="warm"), 400, "invalid_value", "temperature")


def test_temperature_out_of_range(http: httpx.Client) -> None:
    assert_error(post(http, GOOD, temperature="3"), 400, "invalid_value", "temperature")


def test_missing_file(http: httpx.Client) -> None:
    assert_error(post(http, None), 400, "invalid_value", "file")


def test_unknown_granularity(http: httpx.Client) -> None:
    response = post(http, GOOD, **{"timestamp_granularities[]": "phoneme"})
    assert_error(response, 400, "invalid_request", "timestamp_granularities")


def test_unknown_route_is_openai_shaped(http: httpx.Client) -> None:
    assert_error(http.get("/v1/nothing-here"), 404, "not_found")


# --- issue 14: no 500 for any field, every body bounded ----------------------------------------------------
LONG_NAME = "m" * 300


def test_model_names_over_255_characters(http: httpx.Client) -> None:
    assert_error(post(http, GOOD, model=LONG_NAME), 400, "invalid_value", "model")
    assert_error(
        http.post("/v1/audio/translations", data={"model": LONG_NAME}, files={"file": ("a.wav", GOOD)}),
        400,
        "invalid_value",
        "model",
    )
    speech = http.post("/v1/audio/speech", json={"model": LONG_NAME, "input": "hi", "voice": "alloy"})
    assert_error(speech, 400, "invalid_value", "model")
    assert http.get(f"/v1/models/{LONG_NAME}").status_code in (400, 404)
    assert http.get("/v1/audio/voices", params={"model": LONG_NAME}).status_code in (400, 404)


def wav_with_header(bits_per_sample: int, *, block_align: int = 2, channels: int = 1) -> bytes:
    """A WAV whose fmt chunk says what the caller asks, followed by 0.5 s of PCM16 speech."""
    import struct

    pcm = GOOD[44 : 44 + 16000]
    fmt = struct.pack("<HHIIHH", 1, channels, 16000, 16000 * block_align, block_align, bits_per_sample)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(pcm)) + pcm
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(
    "header",
    [
        {"bits_per_sample": 0},
        {"bits_per_sample": 0, "block_align": 0},
        {"bits_per_sample": 16, "channels": 0},
    ],
)
def test_wav_with_nonsense_header_fields(http: httpx.Client, header: dict[str, int]) -> None:
    response = post(http, wav_with_header(**header))
    assert response.status_code in (200, 400), response.text  # never a 500
    if response.status_code == 400:
        assert_error(response, 400, "invalid_audio", "file")


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/v1/text/normalize", "application/json"),
        ("/v1/realtime/calls", "application/sdp"),
        ("/v1/audio/speech", "application/json"),
        ("/v1/livekit/sessions", "application/json"),
    ],
)
def test_every_body_reading_route_is_bounded(http: httpx.Client, path: str, content_type: str) -> None:
    big = b" " * (2 * 1024 * 1024)  # over the 1 MiB default of THEO_MAX_BODY_BYTES
    declared = http.post(path, content=big, headers={"content-type": content_type})
    assert_error(declared, 413, "request_too_large")

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(32):
            yield b" " * (64 * 1024)

    streamed = http.post(path, content=chunked(), headers={"content-type": content_type})
    assert_error(streamed, 413, "request_too_large")
