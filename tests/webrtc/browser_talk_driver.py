"""Drive the web demo's "Talk with Theo" mode in a real headless Chromium (Debian's /usr/bin/chromium,
playwright). Run it inside a loopback-only network namespace, as tests/webrtc/test_browser_talk.py does:

    unshare -n sh -c 'ip link set lo up && .venv/bin/python tests/webrtc/browser_talk_driver.py OUT.json'

It starts a scripted OpenAI-compatible LLM (tests/agent/scripted_llm.py) and `theo serve --ice-host
127.0.0.1` with THEO_AGENT_LLM_BASE_URL/THEO_AGENT_LLM_MODEL pointing at it, and feeds Chromium's fake
microphone a conversation: one utterance, a pause in which Theo starts its (long) answer, a second
utterance over Theo's voice (barge-in), then silence. The page, switched to Talk with Theo, shows both
finals, both answers as they stream, the interruption, and an `error` event; Theo's voice is measured on
the page (WebAudio RMS and getStats totalAudioEnergy). Writes what it saw, and what the LLM was asked, as
JSON.
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

from bench.evalsets import EVAL_ROOT  # noqa: E402
from bench.harness import start_server  # noqa: E402
from tests.agent.scripted_llm import Reply, ScriptedLLM  # noqa: E402
from tests.webrtc.browser_driver import CHROMIUM, CHROMIUM_FLAGS, STATS_JS, _get  # noqa: E402
from theo_rtc.preprocessing import decode_audio  # noqa: E402

LIBRIVOX = EVAL_ROOT / "librivox_pocketsphinx_en"
FIRST = (LIBRIVOX / "goforward.wav", "go forward ten meters")
SECOND = (LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav", "he was not an ill disposed young man")
LEAD_S = 1.5
GAP_S = 7.0  # between the utterances: Theo's answer starts 2-3 s into it and is still going at its end
TAIL_S = 6.0
# Long enough (~15 s of Piper) that the second utterance lands in the middle of it.
FIRST_ANSWER = (
    "Sure, ten meters forward it is. Walk slowly along the corridor and keep to the left side. "
    "When you reach the red door, stop and wait for me there. I will meet you in a few minutes, "
    "and then we can decide together where to go next."
)
SECOND_ANSWER = "Understood, I will stop here."

# Theo's voice from Piper (fast on 2 cores), else espeak-ng: not Kokoro, the page's favourite.
PICK_VOICE_JS = """() => {
  const options = [...document.querySelectorAll('#voice option')].map((o) => o.value);
  const pick = options.find((v) => v.startsWith('piper-en-joe::'))
    || options.find((v) => v.startsWith('espeak-ng::'));
  if (pick) { const select = document.querySelector('#voice'); select.value = pick;
    select.dispatchEvent(new Event('change')); }
  return pick || null;
}"""

# The page's RTCPeerConnection and its data channel, for getStats and for sending a bad message.
EXPOSE_PEER_JS = (
    "const _RPC = window.RTCPeerConnection; window.RTCPeerConnection = function (...a) {"
    " const pc = new _RPC(...a); window.__theoPeer = pc; const create = pc.createDataChannel.bind(pc);"
    " pc.createDataChannel = (...b) => (window.__theoChannel = create(...b)); return pc; };"
    " window.RTCPeerConnection.prototype = _RPC.prototype;"
)

ANSWERS_JS = """() => [...document.querySelectorAll('#finals .agent-line')].map((line) => ({
  text: line.querySelector('.text').innerText,
  unheard: [...line.querySelectorAll('.unheard')].map((u) => u.innerText).join(''),
  state: line.dataset.state,
  meta: (line.querySelector('.meta') || {}).innerText || '',
}))"""


def conversation_wav(path: Path) -> dict[str, float]:
    """The fake microphone's input (48 kHz mono PCM16, played once): silence, the first utterance, a pause,
    the second utterance, silence. Returns where each utterance starts and ends (s)."""
    pieces: list[np.ndarray] = []
    times: dict[str, float] = {}

    def silence(seconds: float) -> None:
        pieces.append(np.zeros(int(48_000 * seconds), np.float32))

    def speech(name: str, audio: Path) -> None:
        decoded = decode_audio(audio.read_bytes())
        samples = soxr.resample(decoded.samples, decoded.sample_rate, 48_000).astype(np.float32)
        times[f"{name}_start_s"] = sum(len(p) for p in pieces) / 48_000
        pieces.append(samples)
        times[f"{name}_end_s"] = sum(len(p) for p in pieces) / 48_000

    silence(LEAD_S)
    speech("first", FIRST[0])
    silence(GAP_S)
    speech("second", SECOND[0])
    silence(TAIL_S)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48_000)
        out.writeframes((np.clip(np.concatenate(pieces), -1, 1) * 32767).astype("<i2").tobytes())
    return times


def drive(out: Path, home: Path, artifacts: Path, limit_s: float) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="theo-talk-browser-"))
    wav = work / "mic.wav"
    result: dict[str, Any] = {"references": [FIRST[1], SECOND[1]], "answers": [FIRST_ANSWER, SECOND_ANSWER]}
    result["mic"] = conversation_wav(wav)
    with ScriptedLLM([Reply(FIRST_ANSWER), Reply(SECOND_ANSWER)], default=Reply("Sorry?")) as llm:
        server = start_server(
            home,
            work / "server.log",
            preload=("whisper-tiny.en", "piper-en-joe"),
            env={
                "THEO_WEBRTC_ICE_HOSTS": '["127.0.0.1"]',
                "THEO_AGENT_LLM_BASE_URL": llm.base_url,
                "THEO_AGENT_LLM_MODEL": "scripted",
            },
        )
        result["url"] = server.url
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM,
                    headless=True,
                    args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-audio-capture={wav}%noloop"],
                )
                page = browser.new_page(viewport={"width": 1280, "height": 1100})
                console: list[str] = []
                page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
                page.add_init_script(EXPOSE_PEER_JS)
                try:
                    _talk(page, server.url, artifacts, result, limit_s)
                except Exception:
                    result["failed_page_state"] = page.evaluate("window.theoDemo")
                    artifacts.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(artifacts / "webrtc-talk-failed.png"), full_page=True)
                    raise
                finally:
                    result["console"] = console[-50:]
                    result["console_errors"] = [c for c in console if c.startswith("error")]
                    result["llm_requests"] = llm.requests
                browser.close()
        finally:
            server.stop()
            result["server_log_tail"] = server.log()[-4000:]
            out.write_text(json.dumps(result, indent=2, default=str))
    return result


def _talk(page: Any, url: str, artifacts: Path, result: dict[str, Any], limit_s: float) -> None:
    page.goto(url + "/")
    page.wait_for_function("document.querySelector('#voice option[value*=\"::\"]') !== null", timeout=60_000)
    result["voice"] = page.evaluate(PICK_VOICE_JS)
    page.click("#talk-on")
    result["talk_selected"] = page.get_attribute("#talk-on", "aria-selected")
    result["page_url"] = page.url
    result["agent_pill_visible"] = page.is_visible("#pill-agent")
    result["placeholder"] = page.inner_text("#placeholder")
    clicked = time.monotonic()
    page.click("#call")
    page.wait_for_function("window.theoDemo.state === 'live'", timeout=30_000)
    result["connect_s"] = time.monotonic() - clicked
    page.wait_for_function("window.theoDemo.agent.states.includes('listening')", timeout=30_000)
    result["agent_options"] = page.evaluate("window.theoDemo.agent.options")

    # Theo answers the first utterance: what the page shows while it speaks
    page.wait_for_function("window.theoDemo.agent.state === 'speaking'", timeout=limit_s * 1000)
    result["speaking_after_click_s"] = time.monotonic() - clicked
    result["while_speaking"] = {
        "agent_pill": page.inner_text("#pill-agent"),
        "mute_pill": page.inner_text("#pill-mute"),
        "title": page.inner_text("#call-title"),
        "sub": page.inner_text("#call-sub"),
        "answer_text": page.evaluate(ANSWERS_JS)[0]["text"],
    }
    page.wait_for_function("window.theoDemo.remoteMaxRms > 0.01", timeout=20_000)
    result["audible_after_click_s"] = time.monotonic() - clicked
    result["total_audio_energy_speaking"] = page.evaluate(STATS_JS)

    # the second utterance talks over it; Theo answers that one in full
    page.wait_for_function(
        "window.theoDemo.agent.responses.length >= 2 && window.theoDemo.agent.responses[1].done",
        timeout=limit_s * 1000,
    )
    page.wait_for_function("window.theoDemo.agent.state === 'listening'", timeout=20_000)
    page.wait_for_timeout(500)
    result["finals_dom"] = page.locator("#finals .final:not(.theo-line):not(.notice-line)").all_inner_texts()
    result["answers_dom"] = page.evaluate(ANSWERS_JS)
    result["agent_pill_after"] = page.inner_text("#pill-agent")
    result["remote_max_rms"] = page.evaluate("window.theoDemo.remoteMaxRms")
    result["total_audio_energy"] = page.evaluate(STATS_JS)
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "webrtc-talk-demo.png"
    page.screenshot(path=str(shot), full_page=True)
    result["screenshot"] = str(shot)

    # an `error` event from the server, shown in the conversation
    page.evaluate(
        "window.__theoChannel.send(JSON.stringify("
        "{type: 'session.configure', agent: {temperature: 'very hot'}}))"
    )
    page.wait_for_function("window.theoDemo.errors.length > 0", timeout=15_000)
    result["errors"] = page.evaluate("window.theoDemo.errors")
    result["notice_dom"] = page.locator("#finals .notice-line").all_inner_texts()
    result["agent_pill_after_error"] = page.inner_text("#pill-agent")
    # back to Transcribe during the call: the agent stops ("agent": null), the call goes on
    page.click("#talk-off")
    page.wait_for_function("window.theoDemo.events.includes('agent.stopped')", timeout=15_000)
    result["after_talk_off"] = {
        "page_url": page.url,
        "agent_pill_visible": page.is_visible("#pill-agent"),
        "title": page.inner_text("#call-title"),
        "state": page.evaluate("window.theoDemo.state"),
    }
    result["demo"] = page.evaluate("window.theoDemo")

    # closing the tab ends the session on the server
    page.close()
    closed_at = time.monotonic()
    health: dict[str, Any] = {}
    while time.monotonic() - closed_at < 15:
        health = json.loads(_get(url + "/health"))
        if health["sessions"] == 0:
            break
        time.sleep(0.2)
    result["sessions_after_close"] = health.get("sessions")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--home", type=Path, default=REPO / ".cache" / "theo-test-home")
    parser.add_argument("--artifacts", type=Path, default=REPO / "test-artifacts")
    parser.add_argument("--limit", type=float, default=90.0)
    args = parser.parse_args()
    drive(args.out, args.home, args.artifacts, args.limit)


if __name__ == "__main__":
    main()
