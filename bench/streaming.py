"""Streaming STT over WS /v1/realtime at real-time pace: latency, CPU per session, sessions on this box.

    .venv/bin/python -m bench.streaming [--concurrency 1,2,4,8]

Latency uses the forced-aligned word times in librivox_pocketsphinx_en/word_times.json: committed-word
latency (whisper_streaming's measure: when a word is first emitted as confirmed, by a partial's LocalAgreement
prefix or by the final, minus the end of that word in the recording), first partial after the first word
ends, and final after the last word ends (the irreducible part, decoding the whole
utterance once with the same model and beam, is measured with bare faster-whisper in this process and
printed beside it). CPU is the server's and its worker's CPU time over the audio streamed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.evalsets import EVAL_ROOT, Utterance, load_set
from bench.harness import start_server
from tests.realtime.helpers import Transcript, stream_file


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime in clock ticks (100 Hz)


def _latencies(
    result: Transcript, words: list[dict[str, float]]
) -> tuple[float | None, float | None, float | None]:
    first_word_end, last_word_end = words[0]["end"], words[-1]["end"]
    partial = next((t for t, e in result.events if e["type"] == "transcript.partial"), None)
    final = next((t for t, e in result.events if e["type"] == "transcript.final"), None)
    vad_end = next((t for t, e in result.events if e["type"] == "vad.speech_end"), None)
    return (
        None if partial is None else partial - first_word_end,
        None if final is None else final - last_word_end,
        None if final is None or vad_end is None else final - vad_end,
    )


def committed_word_latencies(result: Transcript, words: list[dict[str, float]]) -> list[float]:
    """Per reference word: first time that many words were confirmed, minus the word's end.

    Hypothesis and reference are matched by position (a word the hypothesis spells differently still counts
    at its place); hypothesis words past the reference are ignored, reference words never confirmed are
    dropped (the WER figures count those)."""
    latencies: list[float] = []
    for t, event in result.events:
        if event["type"] not in ("transcript.partial", "transcript.final"):
            continue
        confirmed = len(event["text"].split())
        while len(latencies) < min(confirmed, len(words)):
            latencies.append(t - words[len(latencies)]["end"])
        if event["type"] == "transcript.final":
            break
    return latencies


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) >= 2 else float("nan")


async def run_level(
    url: str, server_pids: list[int], concurrency: int, configure: dict[str, Any], rounds: int
) -> dict[str, float]:
    """``concurrency`` sessions at once, each streaming ``rounds`` utterances one after the other."""
    utterances = load_set("librivox_pocketsphinx_en")
    word_times = json.loads((EVAL_ROOT / "librivox_pocketsphinx_en" / "word_times.json").read_text())
    utterances = [u for u in utterances if u.id in word_times]
    plans = [[utterances[(i + k) % len(utterances)] for k in range(rounds)] for i in range(concurrency)]

    async def session(plan: list[Utterance]) -> list[Transcript]:
        return [
            await stream_file(url, u.path, speed=1.0, tail_silence_s=1.5, configure=configure) for u in plan
        ]

    cpu_before = sum(_cpu_seconds(p) for p in server_pids)
    started = time.monotonic()
    outcomes = await asyncio.gather(*(session(plan) for plan in plans))
    wall = time.monotonic() - started
    cpu = sum(_cpu_seconds(p) for p in server_pids) - cpu_before
    jobs = [u for plan in plans for u in plan]
    results = [r for outcome in outcomes for r in outcome]
    partial_lat, final_lat, after_vad, dropped = [], [], [], 0
    committed: list[float] = []
    for utt, result in zip(jobs, results, strict=True):
        committed += committed_word_latencies(result, word_times[utt.id])
        p, f, v = _latencies(result, word_times[utt.id])
        if p is not None:
            partial_lat.append(p)
        if f is not None:
            final_lat.append(f)
        if v is not None:
            after_vad.append(v)
        dropped += len(result.of("session.frames_dropped"))
    audio = sum(u.duration + 1.5 for u in jobs)
    return {
        "sessions": concurrency,
        "committed_p50": statistics.median(committed) if committed else float("nan"),
        "committed_p90": _p90(committed),
        "first_partial_p50": statistics.median(partial_lat) if partial_lat else float("nan"),
        "final_p50": statistics.median(final_lat) if final_lat else float("nan"),
        "final_max": max(final_lat) if final_lat else float("nan"),
        "after_vad_p50": statistics.median(after_vad) if after_vad else float("nan"),
        "cpu_cores_per_session": cpu / wall / concurrency,
        "cpu_s_per_audio_s": cpu / audio,
        "dropped": dropped,
    }


def bare_decode_seconds(model_dir: Path) -> float:
    from faster_whisper import WhisperModel

    from theo_rtc.preprocessing import decode_audio, preprocess

    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", local_files_only=True)
    times = []
    for utt in load_set("librivox_pocketsphinx_en"):
        audio = preprocess(decode_audio(utt.path))
        started = time.perf_counter()
        list(model.transcribe(audio, beam_size=5, language="en", word_timestamps=True)[0])
        times.append(time.perf_counter() - started)
    return statistics.median(times)


VARIANTS = {"early final": {"early_final": True}, "final at VAD end": {"early_final": False}}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", default="1,2,4,8")
    parser.add_argument("--rounds", type=int, default=5, help="utterances each session streams in turn")
    parser.add_argument("--home", type=Path, default=Path(".cache/theo-test-home"))
    args = parser.parse_args()
    baseline = bare_decode_seconds(args.home / "models" / "whisper-tiny.en")
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(args.home, Path(tmp) / "server.log", preload=("whisper-tiny.en",))
        try:
            ps = httpx.get(f"{server.url}/api/ps").json()["models"]
            pids = [server.process.pid] + [w["pid"] for w in ps if w["pid"]]
            url = server.url.replace("http://", "ws://")
            asyncio.run(run_level(url, pids, 1, {}, 1))  # warm-up
            print("whisper-tiny.en, librivox_pocketsphinx_en at real-time pace, 2 cores")
            print(f"baseline: bare faster-whisper, whole utterance, beam 5: {baseline * 1000:.0f} ms (p50)")
            print(
                "latencies in ms; 'word': committed-word latency (confirmed minus the word's end), 'final' "
                "counts from the last word's end, 'after VAD' from vad.speech_end"
            )
            columns = ["sessions", "word p50", "word p90", "1st partial", "final p50", "final max"]
            columns += ["after VAD", "final/base", "cores/sess", "cpu/audio", "drops", "variant"]
            print(" ".join(f"{c:>11}" for c in columns))
            for level in (int(n) for n in args.concurrency.split(",")):
                for name, configure in VARIANTS.items():  # interleaved: both see the same machine
                    r = asyncio.run(run_level(url, pids, level, configure, args.rounds))
                    values = (
                        level,
                        r["committed_p50"] * 1000,
                        r["committed_p90"] * 1000,
                        r["first_partial_p50"] * 1000,
                        r["final_p50"] * 1000,
                        r["final_max"] * 1000,
                        r["after_vad_p50"] * 1000,
                        r["final_p50"] / baseline,
                        r["cpu_cores_per_session"],
                        r["cpu_s_per_audio_s"],
                        r["dropped"],
                    )
                    cells = [
                        f"{v:>11.0f}" if i < 7 or i == 10 else f"{v:>11.2f}" for i, v in enumerate(values)
                    ]
                    print(" ".join(cells), f"  {name}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
