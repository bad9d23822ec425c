"""The web demo end to end in a real headless Chromium: fake microphone plays real speech, the page shows
the final transcript, Theo's voice comes back over the WebRTC track, closing the tab frees the session.

Server, Chromium and driver run together in a loopback-only network namespace (``unshare -n``) so the
test never touches the machine's real interfaces; see browser_driver.py."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.evalsets import wer

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("browser_driver.py")
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"


def _skip_reason() -> str | None:
    if not CHROMIUM.exists():
        return "Chromium is not installed (scripts/setup --dev installs Debian's chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install -e '.[dev]')"
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare/ip are unavailable: cannot isolate the test in a loopback-only network namespace"
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        return f"cannot create a network namespace (needs root or user namespaces): {probe.stderr.decode()}"
    return None


@pytest.mark.slow
def test_web_demo_in_headless_chromium(theo_home: Path, tmp_path: Path) -> None:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    out = tmp_path / "browser.json"
    command = (
        f"ip link set lo up && exec {sys.executable} {DRIVER} {out}"
        f" --home {theo_home} --artifacts {ARTIFACTS}"
    )
    run = subprocess.run(["unshare", "-n", "sh", "-c", command], capture_output=True, timeout=300)
    assert run.returncode == 0 and out.exists(), run.stderr.decode()[-4000:]
    result = json.loads(out.read_text())
    finals = [line.split("\n")[0] for line in result["finals_dom"]]
    assert finals, result
    assert wer([result["reference"]], [finals[0]]) <= 0.2, finals
    assert result["partials"] >= 1  # partials were shown (and replaced) before the final
    assert result["mute_pill_while_speaking"] == "Mic muted while Theo speaks"
    assert result["remote_max_rms"] > 0.01  # WebAudio heard Theo on the remote track
    assert result["total_audio_energy"] > 0  # and so did WebRTC's own stats
    assert Path(result["screenshot"]).stat().st_size > 10_000
    assert result["sessions_after_close"] == 0  # closing the tab ended the session
    assert not result["console_errors"], result["console_errors"]
    latency = result["demo"]["latency"]
    assert latency["final"] and latency["tts"] and latency["connect"]
