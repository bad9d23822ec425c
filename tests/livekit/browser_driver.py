"""Drive the web demo's LiveKit mode in a real headless Chromium (Debian's /usr/bin/chromium, playwright).

Everything runs inside one loopback-only network namespace, started by the test:

    unshare -n sh -c 'ip link set lo up && .venv/bin/python tests/livekit/browser_driver.py OUT.json'

In it this script starts livekit-server (livekit.yaml on free ports: signalling on 127.0.0.1:PORT, ICE/UDP
media on a free 127.0.0.1 range, loopback candidates only), `theo agent` registered with it, `theo serve`
with LIVEKIT_URL/KEY/SECRET pointing at it, and Chromium with a fake microphone playing LibriVox speech.
The page (http://127.0.0.1:PORT/?mode=livekit) asks `POST /v1/livekit/sessions` for a room and a token,
joins with livekit-client, publishes the microphone; Theo is dispatched into the room, transcribes the
track (lk.transcription on the page), and speaks "Repeat what I said" on its own track, which the page
measures (WebAudio RMS and getStats().totalAudioEnergy of the remote track). Writes what it saw as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.evalsets import load_set  # noqa: E402
from bench.harness import start_server  # noqa: E402
from bench.livekit.client import AgentProcess, start_agent, wait_registered  # noqa: E402
from tests.webrtc.browser_driver import CHROMIUM, CHROMIUM_FLAGS, speech_wav  # noqa: E402
from theo_rtc.transports.livekit import api as lk  # noqa: E402
from theo_rtc.transports.livekit.devserver import LocalLiveKit, free_tcp_port, free_udp_range  # noqa: E402

LEAD_S = 4.0  # silence before the speech: Theo's session starts 0.4-1 s after the page opens the microphone

# Theo's remote audio track, as the page holds it: its receiver's stats.
STATS_JS = """async () => {
  const room = window.__theoRoom;
  if (!room) return null;
  let energy = 0;
  for (const participant of room.remoteParticipants.values()) {
    for (const publication of participant.audioTrackPublications.values()) {
      const report = publication.track && (await publication.track.getRTCStatsReport());
      if (!report) continue;
      report.forEach((r) => {
        if (r.type === "inbound-rtp" && r.kind === "audio") energy += r.totalAudioEnergy || 0;
      });
    }
  }
  return energy;
}"""

# A voice that speaks fast on 2 cores (Piper if its plugin is installed, else espeak-ng), so the test does
# not wait for Kokoro.
PICK_VOICE_JS = """() => {
  const options = [...document.querySelectorAll('#voice option')].map((o) => o.value);
  const pick = options.find((v) => v.startsWith('piper-en-joe::'))
    || options.find((v) => v === 'espeak-ng::en-us') || options.find((v) => v.startsWith('espeak-ng::'));
  if (pick) { const select = document.querySelector('#voice'); select.value = pick;
    select.dispatchEvent(new Event('change')); }
  return pick || null;
}"""

# The utterance is over and transcribed: no speech in progress, every committed segment has its final (or
# was discarded), and every line of ours on the page is final (lk.transcription caught up with the events).
SETTLED_JS = """() => {
  const demo = window.theoDemo, e = demo.events, count = (type) => e.filter((t) => t === type).length;
  const mine = demo.transcripts.filter((t) => t.final && t.sender === demo.livekit.identity).length;
  return count('vad.speech_end') > 0 && count('vad.speech_start') === count('vad.speech_end')
    && count('input_audio_buffer.committed') === count('transcript.final') + count('transcript.discarded')
    && mine === count('transcript.final') && !document.querySelector('#finals .lk-line.lk-partial');
}"""

MY_FINAL_JS = (
    "window.theoDemo.livekit && window.theoDemo.transcripts.some("
    "(t) => t.final && t.sender === window.theoDemo.livekit.identity)"
)


def drive(out: Path, home: Path, artifacts: Path, utterance_index: int, limit_s: float) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    utterance = load_set("librivox_pocketsphinx_en")[utterance_index]
    work = Path(tempfile.mkdtemp(prefix="theo-lk-browser-"))
    wav = work / "mic.wav"
    # The file starts playing when the page opens the microphone (right after joining the room); Theo's
    # session exists once the agent has joined and subscribed, so the speech starts after a lead of silence.
    speech_s = speech_wav(wav, utterance.path, lead_s=LEAD_S, tail_s=4.0)
    result: dict[str, Any] = {"reference": utterance.text, "speech_s": speech_s, "lead_s": LEAD_S}
    started = time.monotonic()
    livekit = LocalLiveKit(
        port=free_tcp_port(),
        rtc_tcp_port=0,
        udp_port_range=free_udp_range(32),
        log_path=work / "livekit-server.log",
    )
    livekit.start()
    agent = start_agent(
        livekit,
        home,
        work / "agent.log",
        extra=("--preload", "whisper-tiny.en", "--preload", "piper-en-joe"),
        wait=False,
    )
    server = None
    try:
        server = start_server(
            home,
            work / "server.log",
            preload=("espeak-ng",),
            env={
                "LIVEKIT_URL": livekit.url,
                "LIVEKIT_API_KEY": livekit.api_key,
                "LIVEKIT_API_SECRET": livekit.api_secret,
            },
        )
        result["url"] = server.url
        result["livekit_url"] = livekit.url
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-audio-capture={wav}%noloop"],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            console: list[str] = []
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            try:
                _session(page, server.url, agent, livekit, artifacts, result, limit_s, started)
            except Exception:
                result["failed_page_state"] = page.evaluate("window.theoDemo")
                result["failed_toast"] = page.locator("#toast").inner_text()
                artifacts.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(artifacts / "livekit-demo-failed.png"), full_page=True)
                raise
            finally:
                result["console"] = console[-50:]
                result["console_errors"] = [c for c in console if c.startswith("error")]
            browser.close()
    finally:
        if server is not None:
            server.stop()
            result["server_log_tail"] = server.log()[-3000:]
        agent.stop()
        result["agent_log_tail"] = agent.log()[-5000:]
        livekit.stop()
        log = work / "livekit-server.log"
        result["livekit_log_tail"] = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        result["total_s"] = time.monotonic() - started
        out.write_text(json.dumps(result, indent=2, default=str))
    return result


def _session(
    page: Any,
    url: str,
    agent: AgentProcess,
    livekit: LocalLiveKit,
    artifacts: Path,
    result: dict[str, Any],
    limit_s: float,
    started: float,
) -> None:
    """The page's LiveKit mode, from opening it to hanging up."""
    page.goto(url + "/?mode=livekit")
    page.wait_for_function("window.LivekitClient !== undefined", timeout=20_000)
    page.wait_for_function("document.querySelector('#voice option[value*=\"::\"]') !== null", timeout=60_000)
    result["voice"] = page.evaluate(PICK_VOICE_JS)
    wait_registered(agent)  # its engines load while the page lists the voices
    result["servers_ready_s"] = time.monotonic() - started
    clicked = time.monotonic()
    page.click("#call")
    page.wait_for_function("window.theoDemo.state === 'live'", timeout=30_000)
    result["connect_s"] = time.monotonic() - clicked
    result["livekit"] = page.evaluate("window.theoDemo.livekit")
    # a second browser asking for the same room while Theo is in it: the same dispatch, no second Theo
    again = httpx.post(url + "/v1/livekit/sessions", json={"room": result["livekit"]["room"]}, timeout=30)
    result["same_room_again"] = again.json()
    page.wait_for_function(MY_FINAL_JS, timeout=limit_s * 1000)
    result["final_after_click_s"] = time.monotonic() - clicked
    # the whole utterance (VAD may cut it in two at a pause): until the speech is over and transcribed
    speech_over = clicked + result["livekit"]["mic_ms"] / 1000 + result["lead_s"] + result["speech_s"]
    time.sleep(max(0.0, speech_over + 0.5 - time.monotonic()))
    page.wait_for_function(SETTLED_JS, timeout=limit_s * 1000)
    result["finals_dom"] = page.locator("#finals .lk-line[data-final='true'] .text").all_inner_texts()
    result["final_senders"] = page.locator("#finals .lk-line[data-final='true'] .who").all_inner_texts()
    result["lk_partials"] = page.evaluate("window.theoDemo.lkPartials")
    # Theo reads the sentence back on its own track in the room
    page.click("#repeat")
    page.wait_for_function("window.theoDemo.events.includes('tts.speaking_start')", timeout=30_000)
    result["mute_pill_while_speaking"] = page.locator("#pill-mute").inner_text()
    page.wait_for_function("window.theoDemo.remoteMaxRms > 0.01", timeout=20_000)
    page.wait_for_timeout(1000)
    result["remote_max_rms"] = page.evaluate("window.theoDemo.remoteMaxRms")
    result["total_audio_energy"] = page.evaluate(STATS_JS)
    result["theo_pill"] = page.locator("#pill-theo").inner_text()
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "livekit-demo.png"
    page.screenshot(path=str(shot), full_page=True)
    result["screenshot"] = str(shot)
    page.wait_for_function("window.theoDemo.events.includes('tts.speaking_end')", timeout=30_000)
    # an `error` event on theo.events is shown on the page
    page.evaluate(
        "window.__theoRoom.localParticipant.publishData(new TextEncoder().encode("
        "JSON.stringify({type: 'no.such.event'})), {reliable: true, topic: 'theo.events'})"
    )
    page.wait_for_function("window.theoDemo.errors.length > 0", timeout=15_000)
    result["errors"] = page.evaluate("window.theoDemo.errors")
    result["toast"] = page.locator("#toast").inner_text()
    result["demo"] = page.evaluate("window.theoDemo")
    # hanging up: Theo ends the session and leaves the room
    page.click("#call")
    hung_up = time.monotonic()
    room = result["livekit"]["room"]
    people: list[str] = ["?"]
    while time.monotonic() - hung_up < 30:
        rooms = _in_thread(lk.list_rooms(livekit.settings))
        people = [str(r.num_participants) for r in rooms if r.name == room]
        if not people or people == ["0"]:
            break
        time.sleep(0.3)
    result["room_after_hangup"] = people
    result["room_empty_after_s"] = time.monotonic() - hung_up
    result["state_after_hangup"] = page.evaluate("window.theoDemo.state")


def _in_thread(coroutine: Any) -> Any:
    """Run a coroutine to completion outside playwright's event loop (the sync API runs one)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


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
