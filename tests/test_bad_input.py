"""Bad input gets an OpenAI-shaped error with the right status, and the server keeps serving."""

from __future__ import annotations

import os

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
