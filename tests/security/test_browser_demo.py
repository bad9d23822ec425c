"""Finding 4 (issue 14), the web demo with authentication on, in a real headless Chromium: the page needs
the demo password (THEO_DEMO_PASSWORD, HTTP Basic), its WebRTC call is authorized by a single-use ``ek_``
secret from /demo/session-token, and the page never holds the API key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.evalsets import wer
from tests.webrtc.test_browser import _skip_reason

DRIVER = Path(__file__).with_name("browser_auth_driver.py")


@pytest.mark.slow
def test_web_demo_with_auth_uses_a_client_secret(theo_home: Path, tmp_path: Path) -> None:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    out = tmp_path / "browser.json"
    command = f"ip link set lo up && exec {sys.executable} {DRIVER} {out} --home {theo_home}"
    run = subprocess.run(["unshare", "-n", "sh", "-c", command], capture_output=True, timeout=300)
    assert run.returncode == 0 and out.exists(), run.stderr.decode()[-4000:]
    result = json.loads(out.read_text())
    assert "error" not in result, {k: result[k] for k in ("error", "console", "requests", "server_log_tail")}
    assert "ERR_INVALID_AUTH_CREDENTIALS" in result["without_password"] or result["without_password"] == "401"
    assert result["page_status"] == 200
    assert result["finals"] and wer([result["reference"]], [result["finals"][0]]) <= 0.2, result["finals"]
    calls = [r for r in result["requests"] if "/v1/realtime/calls?" in r["url"] and r["method"] == "POST"]
    assert len(calls) == 1 and calls[0]["authorization"].startswith("Bearer ek_"), calls
    tokens = [r for r in result["requests"] if r["url"].endswith("/demo/session-token")]
    assert len(tokens) == 1
    assert all(result["key"] not in (r["authorization"] or "") for r in result["requests"])
    assert result["key"] not in result["page_text"]
