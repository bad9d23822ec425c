"""``theo transcribe`` / ``theo translate`` in-process and against a server; ``theo ps``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from rapidfuzz import fuzz

from bench.evalsets import EVAL_ROOT, load_set, wer
from tests.conftest import THEO, RunningServer

JFK = load_set("jfk_en")[0]


def theo(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"THEO_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([THEO, *args], env=env, capture_output=True, text=True, timeout=300)


def test_transcribe_in_process_text_and_srt(theo_home: Path) -> None:
    text = theo(theo_home, "transcribe", str(JFK.path))
    assert text.returncode == 0, text.stderr
    assert wer([JFK.text], [text.stdout]) <= 0.1
    srt = theo(theo_home, "transcribe", str(JFK.path), "--format", "srt")
    assert srt.stdout.startswith("1\n00:00:00,000 --> ")


def test_transcribe_in_process_portuguese_json(theo_home: Path) -> None:
    utt = load_set("fleurs_ptbr")[1]
    out = theo(
        theo_home, "transcribe", str(utt.path), "--model", "whisper-base", "--language", "pt", "-f", "json"
    )
    assert out.returncode == 0, out.stderr
    assert wer([utt.text], [json.loads(out.stdout)["text"]], "pt") <= 0.35


def test_transcribe_against_server(server: RunningServer, theo_home: Path) -> None:
    out = theo(theo_home, "transcribe", str(JFK.path), "--server", server.url, "-f", "vtt")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("WEBVTT") and "country" in out.stdout


def test_translate_against_server(server: RunningServer, theo_home: Path) -> None:
    utt = load_set("fleurs_ptbr")[3]
    out = theo(theo_home, "translate", str(utt.path), "--server", server.url)
    assert out.returncode == 0, out.stderr
    assert {"the", "and", "of", "is", "to", "in"} & set(out.stdout.lower().split())


def test_errors_are_reported_not_raised(theo_home: Path, server: RunningServer) -> None:
    missing = theo(theo_home, "transcribe", "/nonexistent.wav")
    assert missing.returncode == 1 and "no such file" in missing.stderr
    bad_model = theo(theo_home, "transcribe", str(JFK.path), "--model", "nope")
    assert bad_model.returncode == 1 and "not installed" in bad_model.stderr
    not_audio = theo(theo_home, "transcribe", str(EVAL_ROOT / "README.md"), "--server", server.url)
    assert not_audio.returncode == 1 and "400" in not_audio.stderr
    assert "Traceback" not in missing.stderr + bad_model.stderr + not_audio.stderr


def test_ps_shows_loaded_models(server: RunningServer, theo_home: Path) -> None:
    out = theo(theo_home, "ps", "--server", server.url)
    assert out.returncode == 0, out.stderr
    assert "whisper-tiny.en" in out.stdout and "ready" in out.stdout


def test_stream_file_in_process_and_against_server(theo_home: Path, server: RunningServer) -> None:
    digits = str(EVAL_ROOT / "vosk_digits_en" / "vosk_test.wav")
    local = theo(theo_home, "transcribe", "--stream", "--speed", "4", digits)
    assert local.returncode == 0, local.stderr
    assert len(local.stdout.strip().splitlines()) == 3  # one line per final: three phrases
    remote = theo(theo_home, "transcribe", "--stream", "--speed", "4", digits, "--server", server.url)
    assert remote.returncode == 0, remote.stderr
    # Same phrases; digit grouping can differ run to run (cross-segment context depends on timing).
    assert len(remote.stdout.strip().splitlines()) == 3
    squash = str.maketrans("", "", " .,\n")
    assert fuzz.ratio(remote.stdout.translate(squash), local.stdout.translate(squash)) >= 85


def test_stream_without_file_needs_a_microphone(theo_home: Path) -> None:
    out = theo(theo_home, "transcribe", "--stream")
    assert out.returncode == 1 and ("microphone" in out.stderr or "input device" in out.stderr)
