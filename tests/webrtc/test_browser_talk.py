"""The web demo's "Talk with Theo" mode end to end in a real headless Chromium: the page starts the voice
agent on its WebRTC call (`session.configure` with ``"agent": {}``: the server's THEO_AGENT_LLM_* point at
a scripted OpenAI-compatible LLM), Chromium's fake microphone speaks, the page shows the final, Theo's
answer as it streams and Theo's turn, Theo's voice is measured on the page, a second utterance over Theo's
voice interrupts it (the part not heard is greyed), an `error` event is shown in the conversation, and
switching back to Transcribe mid-call stops the agent.

Server, scripted LLM, Chromium and driver run together in a loopback-only network namespace
(``unshare -n``); see browser_talk_driver.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.evalsets import normalize, wer
from tests.webrtc.test_browser import _skip_reason
from theo_rtc.agent.conversation import INTERRUPTED_MARK

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("browser_talk_driver.py")
ARTIFACTS = REPO / "test-artifacts"


@pytest.mark.slow
def test_talk_with_theo_in_headless_chromium(theo_home: Path, tmp_path: Path) -> None:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    out = tmp_path / "talk.json"
    command = (
        f"ip link set lo up && exec {sys.executable} {DRIVER} {out}"
        f" --home {theo_home} --artifacts {ARTIFACTS}"
    )
    run = subprocess.run(["unshare", "-n", "sh", "-c", command], capture_output=True, timeout=400)
    report = out.read_text() if out.exists() else ""
    assert run.returncode == 0 and out.exists(), run.stderr.decode()[-4000:] + report[-6000:]
    result = json.loads(report)
    demo = result["demo"]
    first_answer, second_answer = result["answers"]

    # the mode: chosen on the page, remembered in the URL, the agent's pill shown
    assert result["talk_selected"] == "true" and "talk=1" in result["page_url"]
    assert result["agent_pill_visible"] and result["placeholder"].startswith("Talk with Theo")
    assert result["agent_options"]["llm"]["model"] == "scripted"  # "agent": {} took the server's settings
    assert result["agent_options"]["echo_cancellation"] is False, "the browser cancels echo itself"

    # while Theo answers: its turn, the microphone left open for barge-in, the text already written
    speaking = result["while_speaking"]
    assert speaking["agent_pill"] == "Theo answering" and speaking["title"] == "Theo is answering", speaking
    assert speaking["mute_pill"] == "Mic open while Theo speaks"
    assert speaking["sub"] == "Talk over Theo to interrupt."
    assert speaking["answer_text"] and first_answer.startswith(speaking["answer_text"]), speaking

    # the caller's two finals, and the scripted LLM asked with each
    finals = [line.split("\n")[0] for line in result["finals_dom"]]
    assert len(finals) >= 2 and "forward" in normalize(finals[0]), finals
    # measured 0.25: tiny.en hears "ill disposed" as "old-sposed"
    assert wer([result["references"][1]], [" ".join(finals[1:])]) <= 0.4, finals
    requests = result["llm_requests"]
    assert len(requests) == 2, [r["messages"] for r in requests]
    assert requests[0]["model"] == "scripted"
    assert [m["content"] for m in requests[0]["messages"] if m["role"] == "user"] == [demo["finals"][0]]

    # the first answer, interrupted: shown whole with the unheard part greyed, and only what was heard
    # went back to the LLM with the next turn
    answers = result["answers_dom"]
    assert len(answers) == 2, answers
    first, second = demo["agent"]["responses"]
    assert first["interrupted"] and first["played_ms"] > 0 and first["pieces"] >= 2, first
    # text: as far as it was written (pieces go to the LLM's chunker ahead of speech); heard: a prefix
    written, heard = first["text"], first["heard_text"].removesuffix("…")
    assert first_answer.startswith(written) and first["spoken_text"] and written.startswith(heard), first
    assert heard and len(heard) < len(written), first
    assert answers[0]["state"] == "interrupted" and answers[0]["text"] == written, answers[0]
    assert answers[0]["unheard"] == written[len(heard) :], answers[0]
    assert answers[0]["meta"].startswith("you interrupted after"), answers[0]
    assert demo["agent"]["interruptions"] == 1
    assert requests[1]["messages"][1:] == [
        {"role": "user", "content": demo["finals"][0]},
        {"role": "assistant", "content": first["heard_text"] + INTERRUPTED_MARK},
        {"role": "user", "content": " ".join(demo["finals"][1:])},
    ], requests[1]["messages"]
    # the second answer, heard in full
    assert not second["interrupted"] and second["done"], second
    assert answers[1] == {"text": second_answer, "unheard": "", "state": "done", "meta": answers[1]["meta"]}
    assert answers[1]["meta"].endswith(" s spoken"), answers[1]

    # Theo's turns, in order, and where it ended
    states = demo["agent"]["states"]
    assert states[:3] == ["listening", "thinking", "speaking"], states
    assert states.count("thinking") == 2 and states[-1] == "listening", states
    assert result["agent_pill_after"] == "Theo listening"

    # Theo's voice, measured on the page
    assert result["remote_max_rms"] > 0.01  # WebAudio heard Theo on the remote track
    # and WebRTC's own stats counted it (a snapshot taken mid-answer can still read 0: getStats refreshes
    # on its own schedule, so only the total at the end is checked)
    assert result["total_audio_energy"] > 0
    assert demo["latency"]["tts"] and demo["latency"]["final"] and demo["latency"]["connect"]

    # an error event: a readable line in the conversation; the agent goes on
    assert [e["param"] for e in result["errors"]] == ["agent.temperature"], result["errors"]
    notice = result["notice_dom"][0]
    assert result["errors"][0]["message"] in notice and "agent.temperature" in notice, notice
    assert result["agent_pill_after_error"] == "Theo listening"
    off = result["after_talk_off"]  # Transcribe again, mid-call: the agent stopped, the call went on
    assert off == {
        "page_url": off["page_url"],
        "agent_pill_visible": False,
        "title": "Listening",
        "state": "live",
    }
    assert "talk=1" not in off["page_url"]

    assert Path(result["screenshot"]).stat().st_size > 10_000
    assert result["sessions_after_close"] == 0  # closing the tab ended the session
    assert not result["console_errors"], result["console_errors"]
