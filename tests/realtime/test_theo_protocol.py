"""Theo's realtime protocol over a real server: real speech streamed at real-time pace (and faster)."""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
import os
import signal

import httpx
import pytest
import websockets
from rapidfuzz import fuzz

from bench.evalsets import EVAL_ROOT, load_set, wer
from tests.conftest import RunningServer
from tests.realtime.helpers import pcm16, stream_file

LIBRIVOX = EVAL_ROOT / "librivox_pocketsphinx_en"


def ws_url(server: RunningServer) -> str:
    return server.url.replace("http://", "ws://")


async def test_partials_precede_the_final_which_matches_batch(
    server: RunningServer,
) -> None:
    utt = load_set("librivox_pocketsphinx_en")[0]  # 7.1 s of continuous speech
    result = await stream_file(ws_url(server), utt.path, speed=1.0)
    kinds = [e["type"] for _, e in result.events]
    assert kinds[0] == "session.created" and kinds[-1] == "session.closed"
    partials = result.of("transcript.partial")
    assert len(partials) >= 3, kinds
    assert result.first_time("transcript.partial") < result.first_time("transcript.final")
    # confirmed text only ever grows within a segment
    confirmed = [p["text"] for p in partials if p["text"]]
    assert all(b.startswith(a) for a, b in itertools.pairwise(confirmed)), confirmed
    async with httpx.AsyncClient(base_url=server.url, timeout=300) as ac:
        response = await ac.post(
            "/v1/audio/transcriptions",
            data={"model": "whisper-tiny.en"},
            files={"file": utt.path.read_bytes()},
        )
    batch = response.json()
    streamed = " ".join(result.finals)
    assert wer([batch["text"]], [streamed]) <= 0.1, (batch["text"], streamed)
    assert wer([utt.text], [streamed]) <= 0.15


async def test_fleurs_at_ten_times_real_time(server: RunningServer) -> None:
    # WER measured at 10x: 8.9 % on these five (batch: 6.6 % on all ten); VAD splits and shorter
    # windows cost a little. Bound with head-room.
    utterances = load_set("fleurs_en")[:5]
    results = await asyncio.gather(*(stream_file(ws_url(server), u.path, speed=10.0) for u in utterances))
    hypotheses = [" ".join(r.finals) for r in results]
    assert wer([u.text for u in utterances], hypotheses) <= 0.15, hypotheses
    assert all(
        r.of("session.rate_limit") for r in results
    )  # 10x is faster than real time: the client is told


async def test_three_phrases_give_three_finals(server: RunningServer) -> None:
    result = await stream_file(ws_url(server), EVAL_ROOT / "vosk_digits_en" / "vosk_test.wav", speed=2.0)
    finals = result.of("transcript.final")
    assert len(finals) == 3, result.finals
    assert [f["segment_id"] for f in finals] == sorted({f["segment_id"] for f in finals})
    assert len(result.of("vad.speech_start")) == len(result.of("vad.speech_end")) == 3


async def test_vad_events_match_reference_regions(server: RunningServer) -> None:
    result = await stream_file(ws_url(server), EVAL_ROOT / "vad_refs" / "cobra_sample.wav", speed=5.0)
    with (EVAL_ROOT / "vad_refs" / "cobra_sample.segments.tsv").open() as f:
        reference = [
            (float(r["start_s"]) * 1000, float(r["end_s"]) * 1000) for r in csv.DictReader(f, delimiter="\t")
        ]
    starts = [e["timestamp_ms"] for e in result.of("vad.speech_start")]
    ends = [e["timestamp_ms"] for e in result.of("vad.speech_end")]
    assert len(starts) == len(ends) == len(reference)
    for start, end, (ref_start, ref_end) in zip(starts, ends, reference, strict=True):
        assert abs(start - ref_start) <= 100 and abs(end - ref_end) <= 100


async def test_hot_words_and_configure(server: RunningServer) -> None:
    goforward = LIBRIVOX / "goforward.wav"
    result = await stream_file(ws_url(server), goforward, speed=4.0, configure={"hot_words": ["Forward"]})
    configured = result.of("session.configured")
    assert configured and configured[0]["config"]["hot_words"] == ["Forward"]
    assert "Forward" in " ".join(result.finals)


async def test_bad_input_gets_error_events_and_the_session_survives(server: RunningServer) -> None:
    data, rate = pcm16(LIBRIVOX / "goforward.wav")
    async with websockets.connect(f"{ws_url(server)}/v1/realtime?sample_rate={rate}", max_size=None) as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"

        async def error_for(message: str | bytes) -> dict:  # type: ignore[type-arg]
            await ws.send(message)
            while True:
                event = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if event["type"] == "error":
                    return event

        assert (await error_for("{not json"))["code"] == "invalid_json"
        assert (await error_for("[1, 2]"))["code"] == "invalid_event"
        assert (await error_for(json.dumps({"type": "no.such.event"})))["code"] == "unknown_event"
        assert (await error_for(bytes(70_000)))["code"] == "frame_too_large"
        assert (await error_for(bytes(3)))["param"] == "audio"  # odd byte count is not PCM16
        bad_rate = await error_for(json.dumps({"type": "session.configure", "sample_rate": 1000}))
        assert bad_rate["param"] == "sample_rate"
        assert (await error_for(json.dumps({"type": "session.configure", "model": "nope"})))[
            "param"
        ] == "model"
        assert (await error_for(json.dumps({"type": "session.configure", "bogus": 1})))["param"] == "bogus"
        # still transcribing after all that
        for i in range(0, len(data), 640):
            await ws.send(data[i : i + 640])
        await ws.send(bytes(rate * 2))
        await ws.send(json.dumps({"type": "session.close"}))
        finals = []
        async for message in ws:
            event = json.loads(message)
            if event["type"] == "transcript.final":
                finals.append(event["text"])
        assert "forward" in " ".join(finals).lower()


async def test_unknown_model_is_refused_cleanly(server: RunningServer) -> None:
    async with websockets.connect(f"{ws_url(server)}/v1/realtime?model=whisper-none") as ws:
        event = json.loads(await ws.recv())
        assert event["type"] == "error" and "not installed" in event["message"]
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1008


async def test_worker_killed_mid_utterance_loses_and_duplicates_nothing(server: RunningServer) -> None:
    path = EVAL_ROOT / "vosk_digits_en" / "vosk_test.wav"
    baseline = await stream_file(ws_url(server), path, speed=2.0)
    async with httpx.AsyncClient(base_url=server.url) as ac:
        workers = (await ac.get("/api/ps")).json()["models"]
    pid = next(w["pid"] for w in workers if w["model"] == "whisper-tiny.en")
    data, rate = pcm16(path)
    events: list[dict] = []  # type: ignore[type-arg]
    killed = False
    async with websockets.connect(f"{ws_url(server)}/v1/realtime?sample_rate={rate}", max_size=None) as ws:

        async def reader() -> None:
            nonlocal killed
            async for message in ws:
                event = json.loads(message)
                events.append(event)
                if event["type"] == "vad.speech_start" and event["segment_id"] == 2 and not killed:
                    os.kill(pid, signal.SIGKILL)
                    killed = True

        reading = asyncio.create_task(reader())
        frame = rate // 50 * 2
        for i in range(0, len(data), frame):
            await ws.send(data[i : i + frame])
            await asyncio.sleep(0.01)
        await ws.send(bytes(rate * 2))
        await ws.send(json.dumps({"type": "session.close"}))
        await asyncio.wait_for(reading, 120)
    assert killed
    errors = [e for e in events if e["type"] == "error"]
    assert errors and all(e["recoverable"] for e in errors)
    finals = [e for e in events if e["type"] == "transcript.final"]
    ids = [f["segment_id"] for f in finals]
    assert ids == [1, 2, 3], ids  # none lost, none duplicated
    # Same words as an uninterrupted run; digit grouping may differ ("90210" vs "9 0 2 1 0"), so compare
    # the character sequence without spaces.
    recovered = "".join(f["text"] for f in finals).replace(" ", "")
    assert fuzz.ratio("".join(baseline.finals).replace(" ", ""), recovered) >= 85, (baseline.finals, finals)


async def test_streaming_metrics_are_exported(server: RunningServer) -> None:
    await stream_file(ws_url(server), LIBRIVOX / "goforward.wav", speed=4.0)
    async with httpx.AsyncClient(base_url=server.url) as ac:
        text = (await ac.get("/metrics")).text
    for name in (
        "theo_stt_ttfb_seconds_count",
        "theo_stt_final_delay_seconds_count",
        "theo_stt_session_duration_seconds_count",
        'theo_stt_vad_events_total{event="speech_start"}',
        "theo_stt_active_sessions",
        "theo_stt_segments_force_committed_total",
    ):
        assert name in text, name
    assert "theo_stt_active_sessions 0.0" in text
