"""Issue 13: many utterances in one streaming session, transcribed as well as batch requests of the files.

One in-process session per case receives the utterances of three eval sets back to back, separated by
2 s pauses of digital silence or of faint pink noise, with the default VAD and a quick one (300 ms of
silence ends a turn, 100 ms pre-roll). The driver (bench/multi_utterance.py) pushes audio faster than real
time and waits for each final before the next utterance, as a live speaker's pause would: nothing depends
on the wall clock. Batch WER comes from the same files through ``TranscriptionService`` in the same run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench.evalsets import wer
from bench.multi_utterance import (
    VAD_DEFAULT,
    VAD_SHORT,
    Clip,
    Pause,
    VadSetting,
    batch_texts,
    load_clips,
    run_session,
)
from theo_rtc.backends.types import StreamHypothesis, Word
from theo_rtc.config import TheoSettings
from theo_rtc.runtime import TheoRuntime
from theo_rtc.session.transcript import is_confident

SETS = {"librivox_pocketsphinx_en": 6, "fleurs_en": 8, "ljspeech_en": 8}
PAUSES = (Pause(2.0, "silence"), Pause(2.0, "pink", -45.0))
MAX_RATIO = 1.15


@pytest.fixture(scope="module")
async def runtime(theo_home: Path) -> AsyncIterator[TheoRuntime]:
    async with TheoRuntime(TheoSettings(home=theo_home)) as rt:
        yield rt


@pytest.fixture(scope="module")
async def corpus(runtime: TheoRuntime) -> dict[str, tuple[list[Clip], list[str]]]:
    """Each set's clips and their batch transcripts (whisper-tiny.en, one request per file)."""
    sets = {}
    for name, limit in SETS.items():
        clips = load_clips(name, limit)
        sets[name] = (clips, await batch_texts(runtime, clips))
    return sets


@pytest.mark.parametrize("vad", [VAD_DEFAULT, VAD_SHORT], ids=lambda v: v.label)
@pytest.mark.parametrize("pause", PAUSES, ids=lambda p: p.label.replace(" ", "_"))
async def test_one_session_of_many_utterances_matches_batch_and_makes_nothing_up(
    runtime: TheoRuntime, corpus: dict[str, tuple[list[Clip], list[str]]], pause: Pause, vad: VadSetting
) -> None:
    references, session, batch, report, made_up = [], [], [], [], []
    for name, (clips, texts) in corpus.items():
        run = await run_session(runtime, clips, pause, vad)
        reference = " ".join(c.text for c in clips)
        references.append(reference)
        session.append(run.text)
        batch.append(" ".join(texts))
        report.append(
            f"{name}: session {wer([reference], [run.text]):.3f} batch {wer([reference], batch[-1:]):.3f}"
        )
        made_up += [f"{name} {w['start_ms']}-{w['end_ms']} ms {w['word']!r}" for w in run.words_in_pauses()]
    got, base = wer(references, session), wer(references, batch)
    assert got <= MAX_RATIO * base, f"session WER {got:.3f} > {MAX_RATIO} x batch {base:.3f}: {report}"
    assert not made_up, f"final words where nobody speaks: {made_up}"


def _hypothesis(
    words: list[tuple[str, float]], *, no_speech: float = 0.01, logprob: float = -0.2
) -> StreamHypothesis:
    timed = tuple(Word(w, i * 0.3, i * 0.3 + 0.3, p) for i, (w, p) in enumerate(words))
    return StreamHypothesis(True, "".join(w for w, _ in words).strip(), timed, 3.0, "en", logprob, no_speech)


def test_only_confident_finals_prompt_the_next_utterance() -> None:
    """``cross_segment_context``: what whisper-tiny.en made up in bench/multi_utterance.py is kept out."""
    assert is_confident(_hypothesis([(" He", 0.99), (" might", 0.97), (" even", 0.95), (" himself.", 0.9)]))
    # a made-up ending: its first word is improbable, decoded from the non-speech tail
    ending = [(" was.", 1.0), (" Thank", 0.0), (" you", 0.98), (" very", 0.14), (" much.", 0.99)]
    assert not is_confident(_hypothesis(ending, no_speech=0.75, logprob=-0.5))
    assert not is_confident(_hypothesis(ending))
    # a loop compresses far beyond Whisper's 2.4
    assert not is_confident(_hypothesis([(" see you next time,", 0.9)] * 12))
    assert not is_confident(_hypothesis([(" Now.", 0.8)], no_speech=0.6))
    assert not is_confident(_hypothesis([]))
