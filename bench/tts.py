"""Text to speech: time to first audio byte and RTF through Theo's HTTP API vs the raw engine, same run.

    .venv/bin/python -m bench.tts [--repeats 5] [--concurrency 1,2,4] [--engines piper,kokoro]

Three paths per engine, same machine, same loaded model files, run one after the other:
- raw: the engine library called directly in this process (PiperVoice.synthesize,
  kokoro_onnx.Kokoro.create_stream), its own sentence/batch chunking;
- plugin: Theo's backend class in this process (sanitize, Theo's sentence splitter, one piece ahead);
- http: POST /v1/audio/speech on a real `theo serve` (HTTP -> runtime -> gRPC -> worker subprocess ->
  encoder -> chunked body), first byte of the body as seen by an httpx client; wav (the engine's own
  rate, no codec) and mp3 (resampled to 24 kHz and LAME-encoded, the OpenAI default).

"theo adds" is http minus plugin: what serving costs on top of the same synthesis. RTF is wall time to
the last byte divided by the audio duration. Then N concurrent HTTP requests per engine, with the
TTS worker admitting 1 or THEO_TTS_WORKER_CONCURRENCY requests at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.harness import RunningServer, start_server
from theo_rtc.backends.discovery import load_tts_backend
from theo_rtc.backends.tts import TTSBackend
from theo_rtc.config import TheoSettings
from theo_rtc.registry import ModelStore

TEXTS = {
    "short": "Hello, how can I help you today?",
    "paragraph": (
        "Thanks for calling. Your order has shipped and should arrive on Thursday. If you need to "
        "change the address, just say so and I will update it right away. Is there anything else?"
    ),
}
ENGINES = {"piper": ("piper-en-joe", "alloy"), "kokoro": ("kokoro-82m", "af_heart")}


@dataclass(frozen=True)
class Run:
    ttfb: float  # seconds to the first audio
    total: float  # seconds to the end
    audio: float  # seconds of audio

    @property
    def rtf(self) -> float:
        return self.total / self.audio


def median_run(runs: list[Run]) -> Run:
    return Run(
        statistics.median(r.ttfb for r in runs),
        statistics.median(r.total for r in runs),
        statistics.median(r.audio for r in runs),
    )


# --- the three paths ---------------------------------------------------------------------------------


async def raw_piper(backend: TTSBackend, text: str) -> Run:
    from piper import SynthesisConfig

    voice = backend._voice  # type: ignore[attr-defined]  # the PiperVoice the plugin loaded
    started = time.perf_counter()
    ttfb, samples, rate = 0.0, 0, 22050
    for chunk in voice.synthesize(text, SynthesisConfig()):
        if not ttfb:
            ttfb = time.perf_counter() - started
        samples += chunk.audio_float_array.size
        rate = chunk.sample_rate
    return Run(ttfb, time.perf_counter() - started, samples / rate)


async def raw_kokoro(backend: TTSBackend, text: str) -> Run:
    kokoro = backend._kokoro  # type: ignore[attr-defined]  # the kokoro_onnx.Kokoro the plugin loaded
    started = time.perf_counter()
    ttfb, samples, rate = 0.0, 0, 24000
    async for audio, chunk_rate in kokoro.create_stream(text, voice="af_heart", lang="en-us"):
        rate = chunk_rate
        if not ttfb:
            ttfb = time.perf_counter() - started
        samples += audio.size
    return Run(ttfb, time.perf_counter() - started, samples / rate)


async def plugin(backend: TTSBackend, text: str, voice: str) -> Run:
    started = time.perf_counter()
    ttfb, seconds = 0.0, 0.0
    async for chunk in backend.synthesize(text, voice):
        if not ttfb:
            ttfb = time.perf_counter() - started
        seconds += chunk.duration
    return Run(ttfb, time.perf_counter() - started, seconds)


def http_once(client: httpx.Client, model: str, voice: str, text: str, fmt: str = "wav") -> Run:
    body = {"model": model, "voice": voice, "input": text, "response_format": fmt}
    started = time.perf_counter()
    ttfb, size = 0.0, 0
    with client.stream("POST", "/v1/audio/speech", json=body) as response:
        response.raise_for_status()
        for data in response.iter_raw():
            if not ttfb:
                ttfb = time.perf_counter() - started
            size += len(data)
    # pcm is always 24 kHz s16le; other formats: the caller knows the duration from the plugin run.
    audio = size / 2 / 24000 if fmt == "pcm" else float("nan")
    return Run(ttfb, time.perf_counter() - started, audio)


def concurrent(client: httpx.Client, model: str, voice: str, text: str, n: int) -> tuple[list[Run], float]:
    results: list[Run] = []
    lock = threading.Lock()

    def one() -> None:
        run = http_once(client, model, voice, text, "pcm")
        with lock:
            results.append(run)

    started = time.perf_counter()
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, time.perf_counter() - started


# --- report ------------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:7.1f}"


def compare(
    engine: str,
    backend: TTSBackend,
    client: httpx.Client,
    repeats: int,
    raw: Callable[[TTSBackend, str], Any],
) -> None:
    model, voice = ENGINES[engine]
    for label, text in TEXTS.items():
        runs: dict[str, list[Run]] = {"raw": [], "plugin": [], "http": [], "http mp3": []}
        for _ in range(repeats):  # interleaved so drift (thermal, page cache) hits every path alike
            runs["raw"].append(asyncio.run(raw(backend, text)))
            runs["plugin"].append(asyncio.run(plugin(backend, text, voice)))
            runs["http"].append(http_once(client, model, voice, text))
            runs["http mp3"].append(http_once(client, model, voice, text, "mp3"))
        med = {k: median_run(v) for k, v in runs.items()}
        audio = med["plugin"].audio
        print(
            f"{engine:7} {label:10} {audio:5.1f} s | TTFB ms raw {ms(med['raw'].ttfb)} plugin "
            f"{ms(med['plugin'].ttfb)} http {ms(med['http'].ttfb)} mp3 {ms(med['http mp3'].ttfb)} | "
            f"theo adds {ms(med['http'].ttfb - med['plugin'].ttfb)} ms, http/raw "
            f"{med['http'].ttfb / med['raw'].ttfb:4.2f}x | RTF raw {med['raw'].rtf:.3f} plugin "
            f"{med['plugin'].rtf:.3f} http {med['http'].total / audio:.3f}"
        )


def concurrency_report(client: httpx.Client, engine: str, levels: list[int], label: str) -> None:
    model, voice = ENGINES[engine]
    text = TEXTS["paragraph"]
    for n in levels:
        runs, wall = concurrent(client, model, voice, text, n)
        ttfbs = sorted(r.ttfb for r in runs)
        audio = sum(r.audio for r in runs)
        print(
            f"{engine:7} {label:14} N={n}: TTFB mean {ms(statistics.mean(ttfbs))} max {ms(ttfbs[-1])} ms | "
            f"{audio:5.1f} s of audio in {wall:5.2f} s wall -> aggregate RTF {wall / audio:.3f}, "
            f"slowest request {max(r.total for r in runs):5.2f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--concurrency", default="1,2,4")
    parser.add_argument("--engines", default="piper,kokoro")
    parser.add_argument("--home", type=Path, default=Path(".cache/theo-test-home"))
    args = parser.parse_args()
    engines = args.engines.split(",")
    levels = [int(n) for n in args.concurrency.split(",")]
    store = ModelStore(TheoSettings(home=args.home))

    backends: dict[str, TTSBackend] = {}
    for engine in engines:
        installed = store.install(ENGINES[engine][0])
        backend = load_tts_backend(installed.manifest.engine)
        asyncio.run(backend.load(installed.path, dict(installed.manifest.engine_config)))
        backends[engine] = backend
    raws = {"piper": raw_piper, "kokoro": raw_kokoro}
    models = tuple(ENGINES[e][0] for e in engines)

    with tempfile.TemporaryDirectory() as tmp:
        for slots in (1, TheoSettings().tts_worker_concurrency):
            server: RunningServer = start_server(
                args.home,
                Path(tmp) / f"server-{slots}.log",
                preload=models,
                env={"THEO_TTS_WORKER_CONCURRENCY": str(slots)},
            )
            try:
                with httpx.Client(base_url=server.url, timeout=600) as client:
                    for engine in engines:  # warm every path once
                        model, voice = ENGINES[engine]
                        http_once(client, model, voice, TEXTS["short"])
                        asyncio.run(plugin(backends[engine], TEXTS["short"], voice))
                        asyncio.run(raws[engine](backends[engine], TEXTS["short"]))
                    if slots == 1:
                        print(f"\nlatency, median of {args.repeats} (sequential requests; http = wav body)")
                        for engine in engines:
                            compare(engine, backends[engine], client, args.repeats, raws[engine])
                        print("\nconcurrent HTTP requests (paragraph)")
                    for engine in engines:
                        concurrency_report(client, engine, levels, f"{slots} slot(s)")
            finally:
                server.stop()


if __name__ == "__main__":
    main()
