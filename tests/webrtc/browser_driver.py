"""Drive the web demo in a real headless Chromium (Debian's /usr/bin/chromium through playwright).

Run it inside a loopback-only network namespace so nothing touches the machine's real interfaces:

    unshare -n sh -c 'ip link set lo up && .venv/bin/python tests/webrtc/browser_driver.py OUT.json'

It starts `theo serve --ice-host 127.0.0.1`, feeds Chromium's fake microphone a WAV of real speech, opens
the page, starts a call, waits for a final transcript, asks Theo to repeat it, checks that the audio reaches
the page (WebAudio RMS and getStats totalAudioEnergy), saves a screenshot and writes what it saw as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import soxr

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.evalsets import load_set  # noqa: E402
from bench.harness import start_server  # noqa: E402
from theo_rtc.preprocessing import decode_audio  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--allow-loopback-in-peer-connection",
]


def speech_wav(path: Path, audio: Path, lead_s: float = 1.5, tail_s: float = 4.0) -> float:
    """The fake microphone's input: silence, the utterance, silence (48 kHz mono PCM16, played once)."""
    decoded = decode_audio(audio.read_bytes())
    samples = soxr.resample(decoded.samples, decoded.sample_rate, 48_000).astype(np.float32)
    silence = np.zeros(int(48_000 * lead_s), np.float32)
    full = np.concatenate([silence, samples, np.zeros(int(48_000 * tail_s), np.float32)])
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48_000)
        out.writeframes((np.clip(full, -1, 1) * 32767).astype("<i2").tobytes())
    return len(samples) / 48_000


STATS_JS = """async () => {
  const peer = window.__theoPeer;
  if (!peer) return null;
  let energy = 0;
  (await peer.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "audio") energy += r.totalAudioEnergy || 0;
  });
  return energy;
}"""


def drive(out: Path, home: Path, artifacts: Path, utterance_index: int, limit_s: float) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    utterance = load_set("librivox_pocketsphinx_en")[utterance_index]
    work = Path(tempfile.mkdtemp(prefix="theo-browser-"))
    wav = work / "mic.wav"
    speech_s = speech_wav(wav, utterance.path)
    server = start_server(
        home,
        work / "server.log",
        preload=("whisper-tiny.en",),
        env={"THEO_WEBRTC_ICE_HOSTS": '["127.0.0.1"]'},
    )
    result: dict[str, Any] = {"reference": utterance.text, "speech_s": speech_s, "url": server.url}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                # %noloop: play the file once, then silence (the default loops it)
                args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-audio-capture={wav}%noloop"],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            console: list[str] = []
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.add_init_script(
                # expose the page's RTCPeerConnection for getStats without touching the app code
                "const _RPC = window.RTCPeerConnection; window.RTCPeerConnection = function (...a) {"
                " const pc = new _RPC(...a); window.__theoPeer = pc; return pc; };"
                " window.RTCPeerConnection.prototype = _RPC.prototype;"
            )
            page.goto(server.url + "/")
            page.wait_for_function(
                "document.querySelector('#voice option[value*=\"::\"]') !== null", timeout=60_000
            )
            clicked = time.monotonic()
            page.click("#call")
            page.wait_for_function("window.theoDemo.state === 'live'", timeout=20_000)
            result["connect_s"] = time.monotonic() - clicked
            page.wait_for_function("window.theoDemo.finals.length > 0", timeout=limit_s * 1000)
            result["final_after_click_s"] = time.monotonic() - clicked
            result["finals_dom"] = page.locator("#finals .final:not(.theo-line)").all_inner_texts()
            result["partials"] = page.evaluate("window.theoDemo.partials")
            # Theo reads the sentence back through the WebRTC audio track
            page.click("#repeat")
            page.wait_for_function("window.theoDemo.events.includes('tts.speaking_start')", timeout=30_000)
            result["mute_pill_while_speaking"] = page.locator("#pill-mute").inner_text()
            page.wait_for_function("window.theoDemo.remoteMaxRms > 0.01", timeout=20_000)
            page.wait_for_timeout(1000)
            result["remote_max_rms"] = page.evaluate("window.theoDemo.remoteMaxRms")
            result["total_audio_energy"] = page.evaluate(STATS_JS)
            result["theo_pill"] = page.locator("#pill-theo").inner_text()
            artifacts.mkdir(parents=True, exist_ok=True)
            shot = artifacts / "webrtc-demo.png"
            page.screenshot(path=str(shot), full_page=True)
            result["screenshot"] = str(shot)
            page.wait_for_function("window.theoDemo.events.includes('tts.speaking_end')", timeout=30_000)
            result["demo"] = page.evaluate("window.theoDemo")
            # closing the tab ends the session on the server
            page.close()
            closed_at = time.monotonic()
            while time.monotonic() - closed_at < 15:
                health = json.loads(_get(server.url + "/health"))
                if health["sessions"] == 0:
                    break
                time.sleep(0.2)
            result["sessions_after_close"] = health["sessions"]
            result["session_freed_after_s"] = time.monotonic() - closed_at
            result["console_errors"] = [c for c in console if c.startswith("error")]
            browser.close()
    finally:
        server.stop()
        result["server_log_tail"] = server.log()[-4000:]
    out.write_text(json.dumps(result, indent=2, default=str))
    return result


def _get(url: str) -> str:
    import httpx

    return httpx.get(url, timeout=10).text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--home", type=Path, default=REPO / ".cache" / "theo-test-home")
    parser.add_argument("--artifacts", type=Path, default=REPO / "test-artifacts")
    parser.add_argument("--utterance", type=int, default=0)
    parser.add_argument("--limit", type=float, default=60.0)
    args = parser.parse_args()
    drive(args.out, args.home, args.artifacts, args.utterance, args.limit)


if __name__ == "__main__":
    main()
