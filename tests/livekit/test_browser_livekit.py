"""The web demo's LiveKit mode end to end in a real headless Chromium: livekit-server, `theo agent`, `theo
serve` (LIVEKIT_URL/KEY/SECRET pointing at that livekit-server) and Chromium with a fake microphone playing
LibriVox speech. The page gets a room and a token from `POST /v1/livekit/sessions`, joins with
livekit-client (served by Theo), publishes the microphone; Theo is dispatched into the room, the page shows
its final transcript from `lk.transcription`, Theo's voice comes back on Theo's track after "Repeat what I
said" (measured on the page: WebAudio RMS, and getStats().totalAudioEnergy of the remote track), a
`theo.events` error is shown, and hanging up empties the room.

How the browser reaches the servers: everything (livekit-server, `theo agent`, `theo serve`, Chromium and
the driver, tests/livekit/browser_driver.py) runs in one new network namespace (`unshare -n`), where only
this test's processes exist. All signalling and media use loopback addresses: livekit-server listens on
127.0.0.1 (HTTP/WebSocket and its ICE/UDP range, livekit.yaml: loopback candidates only), `theo serve` on
127.0.0.1, Chromium is allowed loopback ICE candidates (--allow-loopback-in-peer-connection).

One addition the WebRTC browser test does not need: `theo agent`'s WebRTC stack (the LiveKit Rust SDK's
libwebrtc) never gathers candidates on an interface flagged LOOPBACK, and has no switch to allow it; with
only `lo` in the namespace the agent cannot connect ("wait_pc_connection timed out"). So the namespace gets
a veth pair (theo0/theo1, both ends inside it, connected to nothing else) carrying the address 127.0.0.2/32:
a loopback-range address on a non-LOOPBACK interface, which libwebrtc does use. Packets between 127.0.0.2
and 127.0.0.1 are local deliveries, so they still travel on `lo`; nothing leaves the namespace, and the
machine's real interfaces are never touched. The test skips, with the reason, where a namespace or a veth
pair cannot be created.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.evalsets import wer
from tests.webrtc.test_browser import _skip_reason as _browser_skip_reason

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("browser_driver.py")
ARTIFACTS = REPO / "test-artifacts"
VENDOR = REPO / ".tools" / "web-vendor" / "livekit-client.umd.js"
# lo up, plus 127.0.0.2 on a veth pair for libwebrtc in `theo agent` (see the module docstring)
NAMESPACE_SETUP = (
    "ip link set lo up && ip link add theo0 type veth peer name theo1 && ip link set theo0 up"
    " && ip link set theo1 up && ip addr add 127.0.0.2/32 dev theo0"
)
WER_BOUND = 0.2  # measured 0.09 here (tiny.en writes "Mr." for "mister", "its" for "his")


def _skip_reason() -> str | None:
    reason = _browser_skip_reason()
    if reason:
        return reason
    probe = subprocess.run(["unshare", "-n", "sh", "-c", NAMESPACE_SETUP], capture_output=True)
    if probe.returncode != 0:
        return f"cannot set up the test's network namespace ({NAMESPACE_SETUP}): {probe.stderr.decode()}"
    return None


@pytest.mark.slow
def test_web_demo_livekit_mode_in_headless_chromium(theo_home: Path, tmp_path: Path) -> None:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    assert VENDOR.is_file(), "livekit-client is not installed: run scripts/install-livekit-client"
    out = tmp_path / "browser.json"
    command = (
        f"{NAMESPACE_SETUP} && exec {sys.executable} {DRIVER} {out}"
        f" --home {theo_home} --artifacts {ARTIFACTS}"
    )
    run = subprocess.run(["unshare", "-n", "sh", "-c", command], capture_output=True, timeout=400)
    report = out.read_text() if out.exists() else ""
    assert run.returncode == 0 and out.exists(), run.stderr.decode()[-4000:] + report[-6000:]
    result = json.loads(report)
    me = result["livekit"]["identity"]
    finals = [t for t in result["demo"]["transcripts"] if t["final"] and t["sender"] == me]
    assert finals, result["demo"]
    assert result["finals_dom"] == [t["text"] for t in finals]  # what the page shows, in order
    assert set(result["final_senders"]) == {"You"}
    # the page's transcript of the utterance (VAD may have cut it in two at a pause)
    heard = " ".join(t["text"] for t in finals)
    assert wer([result["reference"]], [heard]) <= WER_BOUND, heard
    assert {t["track"] for t in finals} == {finals[0]["track"]}  # lk.transcribed_track_id: our mic
    assert finals[0]["track"].startswith("TR_")
    assert result["lk_partials"] >= 1  # partials were shown before the final (measured 4-7)
    # one line per segment: each partial replaced the line in place, the final settled it
    segments = [t["segment"] for t in result["demo"]["transcripts"] if t["sender"] == me]
    assert len(result["finals_dom"]) == len(set(segments)), result["demo"]["transcripts"]
    assert result["same_room_again"]["dispatch_created"] is False  # one Theo per room
    assert result["mute_pill_while_speaking"] == "Mic muted while Theo speaks"
    assert result["remote_max_rms"] > 0.01  # WebAudio heard Theo's track
    assert result["total_audio_energy"] > 0  # and so did WebRTC's stats of that track
    assert Path(result["screenshot"]).stat().st_size > 10_000
    assert [e["code"] for e in result["errors"]] == ["unknown_event"]
    assert "unknown_event" in result["toast"]
    assert result["room_after_hangup"] in ([], ["0"]), result["room_after_hangup"]
    assert result["state_after_hangup"] == "idle"
    assert not result["console_errors"], result["console_errors"]
    latency = result["demo"]["latency"]
    assert latency["final"] and latency["tts"] and latency["connect"]
