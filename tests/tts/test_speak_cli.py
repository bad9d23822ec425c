"""``theo speak``: in-process with nothing pulled, against a server, piped, --play, errors."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import THEO, RunningServer
from tests.tts.test_encode import decoded_duration


def theo(*args: str, home: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = os.environ | {"THEO_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([THEO, *args], env=env, capture_output=True, input=stdin, timeout=300)


def test_speaks_to_a_file_with_nothing_pulled(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = tmp_path / "hello.wav"
    result = theo("speak", "Hello from Theo. Nothing was pulled.", "-o", str(out), home=home)
    assert result.returncode == 0, result.stderr.decode()
    assert b"espeak-ng" in result.stderr and b"wrote" in result.stderr
    assert decoded_duration("wav", out.read_bytes(), 22050) > 1.5
    catalog = theo("list", "-a", home=home).stdout.decode()
    assert any("espeak-ng" in line and "built in" in line for line in catalog.splitlines())


def test_format_from_extension_and_stdin(tmp_path: Path) -> None:
    out = tmp_path / "olá.mp3"
    result = theo(
        "speak", "-", "--model", "espeak-ng", "--voice", "nova", "-l", "pt", "-o", str(out),
        home=tmp_path / "home", stdin="Olá, tudo bem?".encode(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    assert out.read_bytes()[:3] == b"ID3"  # mp3 with its LAME tag
    assert decoded_duration("mp3", out.read_bytes(), 24000) > 0.5


def test_pipes_audio_to_stdout(tmp_path: Path) -> None:
    result = theo("speak", "Piped audio.", "-m", "espeak-ng", "-f", "flac", home=tmp_path / "home")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout[:4] == b"fLaC"


def test_against_a_server(server: RunningServer, theo_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "remote.opus"
    result = theo(
        "speak", "Spoken by the server.", "--voice", "onyx", "--server", server.url, "-o", str(out),
        home=theo_home,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    assert b"kokoro-82m" in result.stderr  # tts-1 -> the best installed model
    assert out.read_bytes()[:4] == b"OggS"
    assert decoded_duration("opus", out.read_bytes(), 24000) > 1.0


def test_errors_are_clear_and_leave_no_file(server: RunningServer, theo_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "never.wav"
    for args in (
        ("speak", "", "-o", str(out)),
        ("speak", "hi", "--voice", "nobody", "-o", str(out), "--server", server.url),
        ("speak", "hi", "--speed", "9", "-o", str(out), "-m", "espeak-ng"),
        ("speak", "hi", "-f", "ogg", "-o", str(out)),
    ):
        result = theo(*args, home=theo_home)
        assert result.returncode == 1, args
        assert b"error:" in result.stderr, result.stderr
        assert not out.exists(), args
    unreachable = theo("speak", "hi", "--server", "http://127.0.0.1:9", "-o", str(out), home=theo_home)
    assert unreachable.returncode == 1 and b"cannot reach" in unreachable.stderr


@pytest.mark.skipif(importlib.util.find_spec("sounddevice") is not None, reason="sounddevice installed")
def test_play_without_sounddevice_says_why(tmp_path: Path) -> None:
    result = theo("speak", "hi", "--play", home=tmp_path / "home")
    assert result.returncode == 1
    assert b"sounddevice" in result.stderr and b"-o" in result.stderr
