"""Session building blocks: ring buffer, LocalAgreement, state machine timeouts, commit log, VAD."""

from __future__ import annotations

import csv
import tracemalloc

import numpy as np
import pytest

from bench.evalsets import EVAL_ROOT
from theo_rtc.preprocessing import decode_audio, preprocess
from theo_rtc.session import (
    BufferOverrunError,
    CommitLog,
    LocalAgreement,
    RingBuffer,
    SessionState,
    StateMachine,
)
from theo_rtc.session.state import Timeouts
from theo_rtc.vad import Sensitivity, VoiceActivityDetector


def test_ring_buffer_wraps_and_reads_back_exactly() -> None:
    ring = RingBuffer(seconds=1.0)
    signal = np.arange(40_000, dtype=np.float32)
    for i in range(0, 40_000, 320):
        ring.write(signal[i : i + 320])
        ring.commit(max(ring.fence, ring.write_offset - 8000))
    np.testing.assert_array_equal(ring.read(32_000, 40_000), signal[32_000:40_000])  # spans the wrap
    with pytest.raises(IndexError):
        ring.read(0, 100)  # overwritten long ago


def test_ring_buffer_protects_uncommitted_audio() -> None:
    ring = RingBuffer(seconds=1.0)
    ring.write(np.zeros(14_000, np.float32))
    assert not ring.needs_force_commit
    ring.write(np.zeros(1_000, np.float32))
    assert ring.needs_force_commit  # 90 % of 16 000
    with pytest.raises(BufferOverrunError):
        ring.write(np.zeros(2_000, np.float32))
    ring.commit(10_000)
    ring.write(np.zeros(2_000, np.float32))
    with pytest.raises(ValueError):
        ring.commit(5_000)  # the fence never moves back


def test_ring_buffer_write_does_not_allocate() -> None:
    ring = RingBuffer(seconds=60.0)
    frame = np.ones(320, np.float32)
    for _ in range(100):  # warm up
        ring.write(frame)
        ring.commit(ring.write_offset)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(5_000):
        ring.write(frame)
        ring.commit(ring.write_offset)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename") if s.size_diff > 0)
    assert grown < 4_096, f"{grown} bytes allocated over 5000 frames"


def test_local_agreement_confirms_only_what_two_passes_agree_on() -> None:
    agreement = LocalAgreement()
    assert not agreement.update([" And", " so"])
    assert agreement.update([" And", " so,", " my"])  # punctuation does not break agreement
    assert "".join(agreement.confirmed) == " And so,"  # the newest spelling of agreed words
    assert agreement.unconfirmed == [" my"]
    assert not agreement.update([" And", " so,", " by", " fellow"])  # "my" was not confirmed twice
    assert agreement.update([" And", " so,", " by", " fellow", " Americans"])
    assert "".join(agreement.confirmed) == " And so, by fellow"
    # The engine revises an already-confirmed word: the prefix never shrinks, and never duplicates.
    assert not agreement.update([" And", " so", " my", " fellow", " Americans", " ask"])
    assert not agreement.update([" And", " so", " my", " fellow", " Americans", " ask"])
    assert "".join(agreement.confirmed) == " And so, by fellow"


def test_state_machine_timeouts() -> None:
    now = [0.0]
    changes: list[tuple[SessionState, SessionState]] = []
    machine = StateMachine(
        Timeouts(init_s=5, silence_s=3, hold_s=10, closing_s=2),
        lambda a, b: changes.append((a, b)),
        clock=lambda: now[0],
    )
    now[0] = 4.5
    assert machine.expired() is None
    assert machine.transition(SessionState.ACTIVE)
    assert not machine.transition(SessionState.HOLD)  # not allowed from ACTIVE
    now[0] = 10.0
    machine.transition(SessionState.SILENCE)
    now[0] += 3.0
    assert machine.expired() == SessionState.HOLD
    machine.transition(SessionState.HOLD)
    now[0] += 10.0
    assert machine.expired() == SessionState.CLOSING
    machine.transition(SessionState.CLOSING)
    now[0] += 2.0
    assert machine.expired() == SessionState.CLOSED
    assert [b for _, b in changes] == [
        SessionState.ACTIVE,
        SessionState.SILENCE,
        SessionState.HOLD,
        SessionState.CLOSING,
    ]
    idle = StateMachine(Timeouts(init_s=5), lambda a, b: None, clock=lambda: now[0])
    now[0] += 5.0
    assert idle.expired() == SessionState.CLOSED  # no audio at all
    quiet = StateMachine(Timeouts(init_s=5, silence_s=3), lambda a, b: None, clock=lambda: now[0])
    assert quiet.transition(SessionState.SILENCE)  # audio, but nobody speaks: silence timeouts apply
    now[0] += 3.0
    assert quiet.expired() == SessionState.HOLD


def test_commit_log_refuses_duplicates() -> None:
    log = CommitLog()
    log.record(1, 16_000, 1_000)
    with pytest.raises(ValueError):
        log.record(1, 32_000, 2_000)
    log.record(2, 32_000, 2_000)
    assert (log.last_committed_segment_id, log.last_committed_buffer_offset) == (2, 32_000)


def _regions(events: list, total: int) -> list[tuple[float, float]]:  # type: ignore[type-arg]
    starts = [e.offset / 16000 for e in events if e.kind == "speech_start"]
    ends = [e.offset / 16000 for e in events if e.kind == "speech_end"]
    return list(zip(starts, ends, strict=True))


def test_vad_regions_match_reference_within_100ms() -> None:
    audio = preprocess(decode_audio(EVAL_ROOT / "vad_refs" / "cobra_sample.wav"))
    with (EVAL_ROOT / "vad_refs" / "cobra_sample.segments.tsv").open() as f:
        reference = [(float(r["start_s"]), float(r["end_s"])) for r in csv.DictReader(f, delimiter="\t")]
    vad = VoiceActivityDetector()
    events = []
    for i in range(0, len(audio), 320):  # 20 ms frames, as a transport delivers them
        events += vad.process(audio[i : i + 320])
    found = _regions(events, len(audio))
    assert len(found) == len(reference)
    for (start, end), (ref_start, ref_end) in zip(found, reference, strict=True):
        assert abs(start - ref_start) <= 0.1 and abs(end - ref_end) <= 0.1, (found, reference)
    assert vad.prefiltered > 0  # the energy pre-filter spared Silero the silent frames


def test_vad_confirms_a_speech_region_only_after_300_ms_of_voice() -> None:
    """A barge-in acts on ``speech_confirmed``: a 200 ms burst of real speech (a cough, an "uh") starts a
    region but never confirms it; every region of the reference recording is confirmed once, inside it."""
    audio = preprocess(decode_audio(EVAL_ROOT / "vad_refs" / "cobra_sample.wav"))
    with (EVAL_ROOT / "vad_refs" / "cobra_sample.segments.tsv").open() as f:
        first = next(csv.DictReader(f, delimiter="\t"))
    start = int((float(first["start_s"]) + 0.1) * 16000)
    burst = np.concatenate([audio[start : start + 3200], np.zeros(16000, np.float32)])
    kinds = [e.kind for e in VoiceActivityDetector().process(burst)]
    assert kinds == ["speech_start", "speech_end"], kinds
    events = VoiceActivityDetector().process(audio)
    kinds = [e.kind for e in events]
    assert kinds.count("speech_confirmed") == kinds.count("speech_start") > 0, kinds
    for i, event in enumerate(events):
        if event.kind == "speech_confirmed":
            begin, end = events[i - 1], events[i + 1]
            assert (begin.kind, end.kind) == ("speech_start", "speech_end")
            assert begin.offset + 300 * 16 <= event.offset <= end.offset


def test_vad_ignores_silence_and_noise_and_sensitivity_orders() -> None:
    rng = np.random.default_rng(0)
    noise = (rng.standard_normal(16000 * 3) * 0.01).astype(np.float32)
    for level in Sensitivity:
        vad = VoiceActivityDetector(level)
        assert vad.process(np.zeros(16000 * 2, np.float32)) == []
        assert vad.process(noise) == []
    assert (
        VoiceActivityDetector(Sensitivity.HIGH).threshold < VoiceActivityDetector(Sensitivity.LOW).threshold
    )


async def test_session_rejects_non_finite_audio_and_audio_after_close(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from theo_rtc.config import TheoSettings
    from theo_rtc.errors import InvalidRequestError
    from theo_rtc.runtime import TheoRuntime
    from theo_rtc.session import StreamingSession

    class Sink:
        async def send_event(self, event: dict) -> None:  # type: ignore[type-arg]
            pass

        async def send_audio(self, pcm16: bytes, sample_rate: int) -> None:
            pass

    runtime = TheoRuntime(TheoSettings(home=tmp_path))
    session = StreamingSession(runtime, Sink())
    for bad in (np.array([0.0, np.nan], np.float32), np.array([np.inf], np.float32)):
        with pytest.raises(InvalidRequestError, match="NaN or infinite"):
            session.push_audio(bad)
    with pytest.raises(InvalidRequestError, match="even number of bytes"):
        session.push_pcm16(b"\x00\x01\x02")
    await session.cancel()
    with pytest.raises(InvalidRequestError, match="closing"):
        session.push_audio(np.zeros(320, np.float32))
