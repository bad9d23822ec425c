"""Batch STT: Theo's REST API vs bare faster-whisper, same model, same settings, same run.

    .venv/bin/python -m bench.stt_batch [--sets fleurs_en,librivox_pocketsphinx_en] [--model whisper-tiny.en]

Prints real-time factor (processing seconds / audio seconds) for both paths, Theo's overhead ratio, and
the preprocessing cost per 20 ms frame (streaming) and per second of audio (batch).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import openai

from bench.evalsets import load_set, wer
from bench.harness import start_server
from theo_rtc.config import TheoSettings
from theo_rtc.preprocessing import StreamPreprocessor, decode_audio, preprocess
from theo_rtc.registry import ModelStore


def bench_preprocessing() -> None:
    audio = decode_audio(load_set("jfk_en")[0].path)  # 44.1 kHz stereo: exercises every stage
    frame = audio.sample_rate // 50
    stream = StreamPreprocessor(audio.sample_rate)
    timings = []
    for i in range(0, len(audio.samples) - frame, frame):
        started = time.perf_counter()
        stream.process(audio.samples[i : i + frame])
        timings.append(time.perf_counter() - started)
    timings.sort()
    print(
        f"preprocessing, streaming 20 ms frames at {audio.sample_rate} Hz:"
        f" mean {statistics.mean(timings) * 1e3:.3f} ms, p99 {timings[int(len(timings) * 0.99)] * 1e3:.3f} ms"
        " per frame (seed target < 5 ms)"
    )
    started = time.perf_counter()
    for _ in range(5):
        preprocess(audio)
    per_second = (time.perf_counter() - started) / 5 / audio.duration
    print(f"preprocessing, batch: {per_second * 1e3:.2f} ms per second of audio")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", default="fleurs_en,librivox_pocketsphinx_en,jfk_en")
    parser.add_argument("--model", default="whisper-tiny.en")
    parser.add_argument("--home", type=Path, default=Path(".cache/theo-test-home"))
    args = parser.parse_args()

    store = ModelStore(TheoSettings(home=args.home))
    model = store.install(args.model)
    bench_preprocessing()

    from faster_whisper import WhisperModel  # the baseline, loaded in this process

    bare = WhisperModel(str(model.path), device="cpu", compute_type="int8", local_files_only=True)
    beam = int(model.manifest.engine_config.get("beam_size", 5))
    language = "en" if not bare.model.is_multilingual else None

    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(args.home, Path(tmp) / "server.log", preload=(args.model,))
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="bench", max_retries=0, timeout=600)
        try:
            # warm both paths once so neither pays first-call costs in the figures
            warm = load_set("jfk_en")[0].path
            list(bare.transcribe(str(warm), beam_size=beam, language=language)[0])
            with warm.open("rb") as f:
                client.audio.transcriptions.create(model=args.model, file=f)

            print(f"\nmodel {args.model}, beam {beam}, int8, CPU")
            columns = ("audio s", "bare RTF", "theo RTF", "overhead", "WER bare", "WER theo")
            print(f"{'set':28} " + " ".join(f"{c:>9}" for c in columns))
            for name in args.sets.split(","):
                utterances = load_set(name)
                audio_s = sum(u.duration for u in utterances)
                bare_s = theo_s = 0.0
                bare_text, theo_text = [], []
                for utt in utterances:
                    started = time.perf_counter()
                    segments, _ = bare.transcribe(str(utt.path), beam_size=beam, language=language)
                    bare_text.append("".join(s.text for s in segments))
                    bare_s += time.perf_counter() - started
                    started = time.perf_counter()
                    with utt.path.open("rb") as f:
                        theo_text.append(client.audio.transcriptions.create(model=args.model, file=f).text)
                    theo_s += time.perf_counter() - started
                refs = [u.text for u in utterances]
                print(
                    f"{name:28} {audio_s:8.1f} {bare_s / audio_s:9.3f} {theo_s / audio_s:9.3f}"
                    f" {theo_s / bare_s:8.2f}x {wer(refs, bare_text):9.3f} {wer(refs, theo_text):9.3f}"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
