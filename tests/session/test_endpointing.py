"""Smart endpointing (GAP 13): a caller who pauses mid-sentence for 1.2 s is not cut; a finished sentence
ends after the short silence. Real speech (LibriVox, forced-aligned word times), the real Smart Turn v3.2
and whisper-tiny.en, one in-process session. Audio goes in faster than real time: the turn judgement is
awaited by the session's audio loop, so nothing here depends on the machine's speed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.evalsets import EVAL_ROOT, load_set, normalize
from bench.multi_utterance import load_clips
from theo_rtc.config import TheoSettings
from theo_rtc.errors import InvalidRequestError
from theo_rtc.runtime import TheoRuntime
from theo_rtc.session import SessionConfig, StreamingSession
from theo_rtc.session.endpointer import endpointer_for
from theo_rtc.vad.turn import MODEL_FILE, SmartTurn, log_mel

RATE = 16_000
SET = "librivox_pocketsphinx_en"


@pytest.fixture(scope="module")
async def runtime(theo_home: Path) -> AsyncIterator[TheoRuntime]:
    async with TheoRuntime(TheoSettings(home=theo_home)) as rt:
        yield rt


class Collector:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    async def send_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]


async def transcribe(runtime: TheoRuntime, audio: np.ndarray, **config: Any) -> Collector:
    output = Collector()
    session = StreamingSession(
        runtime, output, SessionConfig(model="whisper-tiny.en", partials=False, **config)
    )
    await session.start()
    for i in range(0, len(audio), 320):
        session.push_audio(audio[i : i + 320])
    await session._drain_input()
    await session._stream.finals_idle.wait()
    await session.close("end")
    return output


def paused_mid_sentence(pause_s: float = 1.2) -> tuple[np.ndarray, str, int]:
    """The first LibriVox utterance with a pause after its middle word; returns the audio, the
    reference text and where the pause starts (samples)."""
    clip = load_clips(SET, 1)[0]
    utt = load_set(SET)[0]
    words = json.loads((EVAL_ROOT / SET / "word_times.json").read_text())[utt.id]
    cut = int(words[len(words) // 2 - 1]["end"] * RATE)
    audio = np.concatenate(
        [
            clip.audio[:cut],
            np.zeros(int(pause_s * RATE), np.float32),
            clip.audio[cut:],
            np.zeros(RATE * 2, np.float32),
        ]
    )
    return audio.astype(np.float32), utt.text, cut


def test_log_mel_matches_whisper_features() -> None:
    from faster_whisper.feature_extractor import FeatureExtractor

    audio = load_clips(SET, 1)[0].audio[: RATE * 8]
    reference = FeatureExtractor(feature_size=80)(audio, padding=0)
    ours = log_mel(audio)
    assert ours.shape == reference.shape
    assert np.abs(ours - reference).max() < 1e-4


async def test_a_pause_mid_sentence_does_not_end_the_turn(runtime: TheoRuntime, theo_home: Path) -> None:
    audio, text, cut = paused_mid_sentence()
    model = SmartTurn(runtime.store.get("smart-turn-v3.2").path / MODEL_FILE)
    assert model.complete(audio[:cut]) < 0.5, "the model hears the first half as unfinished"

    smart = await transcribe(runtime, audio, endpointing="smart", min_silence_ms=300, max_silence_ms=2000)
    finals = [e["text"] for e in smart.of("transcript.final")]
    assert len(finals) == 1, finals
    assert normalize(finals[0]).split()[-3:] == normalize(text).split()[-3:], finals
    predictions = smart.of("vad.turn_prediction")
    assert [p["complete"] for p in predictions] == [False, True], predictions

    # the same audio with silence endpointing is cut in two at the pause (so the check above can fail)
    silence = await transcribe(runtime, audio, min_silence_ms=400)
    assert len(silence.of("transcript.final")) == 2


async def test_a_finished_sentence_ends_after_the_short_silence(runtime: TheoRuntime) -> None:
    clip = load_clips(SET, 1)[0]
    audio = np.concatenate([clip.audio, np.zeros(RATE * 3, np.float32)])
    events = await transcribe(runtime, audio, endpointing="smart", min_silence_ms=300, max_silence_ms=2500)
    (end,) = events.of("vad.speech_end")
    (committed,) = events.of("input_audio_buffer.committed")
    assert events.of("vad.turn_prediction")[0]["complete"] is True
    # committed at VAD's end of speech + the 200 ms tail, not after max_silence_ms
    assert committed["end_ms"] - end["timestamp_ms"] <= 250, (end, committed)


def test_smart_endpointing_without_its_model_is_a_clear_error(tmp_path: Path) -> None:
    from theo_rtc.registry import ModelStore

    store = ModelStore(TheoSettings(home=tmp_path))
    with pytest.raises(InvalidRequestError, match=r"theo pull smart-turn-v3\.2") as caught:
        endpointer_for(SessionConfig(endpointing="smart"), store)
    assert caught.value.param == "endpointing"
    assert not endpointer_for(SessionConfig(), store).smart
