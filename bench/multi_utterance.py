"""Many utterances in one streaming session against the same files decoded one by one as batch requests.

    .venv/bin/python -m bench.multi_utterance [--sets librivox_pocketsphinx_en,fleurs_en] [--limit 8]

One in-process :class:`StreamingSession` per (set, pause, VAD setting) receives every utterance of the set
back to back, separated by pauses of digital silence or of faint white/pink noise. Audio goes in as fast
as the session takes it, but the timing a live speaker gives is kept: after each pause the driver waits
until the session has processed the audio and delivered the final, as it would have in real time (a
final arrives ~0.6-1.2 s after VAD end; every pause here is longer than that). The result is compared
with batch requests (the HTTP path's ``TranscriptionService``) on the same files with the same model.

Printed per row: WER of the session, WER of batch, their ratio, and how many final words lie inside the
pauses (text nobody said). tests/session/test_multi_utterance.py uses the same driver.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.evalsets import load_set, normalize, wer
from theo_rtc.backends.types import STT_SAMPLE_RATE, AudioArray
from theo_rtc.preprocessing import Resampler, decode_audio

FRAME = STT_SAMPLE_RATE // 50  # 20 ms, as transports deliver it


@dataclass(frozen=True, slots=True)
class Pause:
    seconds: float = 2.0
    kind: str = "silence"  # "silence" | "white" | "pink"
    dbfs: float = -50.0  # RMS of the noise

    @property
    def label(self) -> str:
        return "silence" if self.kind == "silence" else f"{self.kind} {self.dbfs:.0f} dBFS"


@dataclass(frozen=True, slots=True)
class VadSetting:
    label: str
    min_silence_ms: int
    preroll_ms: int

    def config(self) -> dict[str, Any]:
        return {"min_silence_ms": self.min_silence_ms, "preroll_ms": self.preroll_ms}


VAD_DEFAULT = VadSetting("default", 400, 300)
VAD_SHORT = VadSetting("short", 300, 100)  # quick turn ends, little padding
VAD_LIVEKIT = VadSetting("livekit", 550, 500)  # LiveKit's Silero defaults (min_silence 0.55 s, prefix 0.5 s)
VADS = {v.label: v for v in (VAD_DEFAULT, VAD_SHORT, VAD_LIVEKIT)}


@dataclass(frozen=True, slots=True)
class Clip:
    text: str
    audio: AudioArray  # 16 kHz, as recorded (the session preprocesses)
    path: Path
    speech: tuple[float, float]  # first and last audible 20 ms frame (s): the recording's own silence is out


def speech_extent(audio: AudioArray, floor_db: float = -35.0) -> tuple[float, float]:
    """From the first to the last 20 ms frame within ``floor_db`` of the loudest one."""
    frames = len(audio) // FRAME
    rms = np.sqrt(np.mean(audio[: frames * FRAME].reshape(frames, FRAME).astype(np.float64) ** 2, axis=1))
    loud = np.nonzero(rms >= rms.max() * 10 ** (floor_db / 20))[0]
    return float(loud[0] * FRAME / STT_SAMPLE_RATE), float((loud[-1] + 1) * FRAME / STT_SAMPLE_RATE)


@dataclass(slots=True)
class SessionRun:
    finals: list[dict[str, Any]] = field(default_factory=list)
    spans: list[tuple[float, float]] = field(default_factory=list)  # each clip's place in the stream (s)
    # where nobody speaks: the pauses inserted and the recordings' own leading and trailing silence
    pauses: list[tuple[float, float]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def text(self) -> str:
        return " ".join(f["text"] for f in self.finals)

    def words_in_pauses(self, margin_s: float = 0.1) -> list[dict[str, Any]]:
        """Final words that lie entirely inside a pause, with ``margin_s`` of slack at each of its edges.

        Whisper puts made-up endings ("Thank you very much.") in the last few hundred ms of the window,
        after the speech: those words land here. Words of real speech never start 100 ms after the last
        audible frame or end 100 ms before the first.
        """
        found = []
        for final in self.finals:
            for word in final["words"]:
                start, end = word["start_ms"] / 1000, word["end_ms"] / 1000
                for p_start, p_end in self.pauses:
                    if start >= p_start + margin_s and end <= p_end - margin_s:
                        found.append(word)
                        break
        return found


def load_clips(set_name: str, limit: int | None = None, *, peak_dbfs: float | None = -6.0) -> list[Clip]:
    """The set's first ``limit`` utterances at 16 kHz, each scaled to ``peak_dbfs`` (None: as recorded).

    One session is one speaker on one microphone; FLEURS' recordings span 48 dB of level (peaks from
    -50 to -2 dBFS), and a live session never jumps like that between two sentences.
    """
    clips = []
    for utt in load_set(set_name)[:limit]:
        decoded = decode_audio(utt.path)
        audio = Resampler.oneshot(decoded.samples, decoded.sample_rate, STT_SAMPLE_RATE)
        if peak_dbfs is not None:
            audio = audio * (10 ** (peak_dbfs / 20) / max(float(np.max(np.abs(audio))), 1e-6))
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        clips.append(Clip(utt.text, audio, utt.path, speech_extent(audio)))
    return clips


def pause_audio(pause: Pause, rng: np.random.Generator) -> AudioArray:
    n = int(pause.seconds * STT_SAMPLE_RATE)
    if pause.kind == "silence":
        return np.zeros(n, np.float32)
    white = rng.standard_normal(n)
    if pause.kind == "pink":
        spectrum = np.fft.rfft(white)
        freqs = np.fft.rfftfreq(n, 1 / STT_SAMPLE_RATE)
        spectrum[1:] /= np.sqrt(freqs[1:])
        spectrum[0] = 0
        white = np.fft.irfft(spectrum, n)
    elif pause.kind != "white":
        raise ValueError(f"unknown pause kind {pause.kind!r}")
    rms = 10 ** (pause.dbfs / 20)
    return (white / np.sqrt(np.mean(white**2)) * rms).astype(np.float32)


class _Collector:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    async def send_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    async def send_audio(self, pcm16: bytes, sample_rate: int) -> None:
        pass


async def _settle(session: Any) -> None:
    """Wait until every pushed frame is processed and every committed segment has its final."""
    await session._drain_input()
    await session._stream.finals_idle.wait()


async def run_session(
    runtime: Any,
    clips: list[Clip],
    pause: Pause,
    vad: VadSetting,
    *,
    model: str = "whisper-tiny.en",
    seed: int = 0,
    partials: bool = False,
    context: bool = False,
) -> SessionRun:
    """Stream ``clips`` through one session with ``pause`` before, between and after them."""
    from theo_rtc.session import SessionConfig, StreamingSession

    rng = np.random.default_rng(seed)
    output = _Collector()
    settings: dict[str, Any] = {"model": model, "language": "en", "partials": partials, **vad.config()}
    if context:
        settings["cross_segment_context"] = True
    config = SessionConfig.model_validate(settings)
    session = StreamingSession(runtime, output, config)
    await session.start()
    run = SessionRun()
    offset = 0

    async def push(audio: AudioArray) -> None:
        # One second at a time, then let the session catch up: more than 10 s queued would be dropped.
        nonlocal offset
        for i in range(0, len(audio), FRAME):
            session.push_audio(audio[i : i + FRAME])
            if (i // FRAME) % 50 == 49:
                await session._drain_input()
        offset += len(audio)

    started = time.perf_counter()
    silent_since = 0.0
    try:
        for clip in clips:
            await push(pause_audio(pause, rng))
            await _settle(session)  # the previous utterance's final is out before the next one starts
            at = offset / STT_SAMPLE_RATE
            run.spans.append((at, at + len(clip.audio) / STT_SAMPLE_RATE))
            run.pauses.append((silent_since, at + clip.speech[0]))
            silent_since = at + clip.speech[1]
            await push(clip.audio)
        await push(pause_audio(pause, rng))
        await _settle(session)
        run.pauses.append((silent_since, offset / STT_SAMPLE_RATE))
    finally:
        await session.close("end of input")
    run.seconds = time.perf_counter() - started
    run.finals = [e for e in output.events if e["type"] == "transcript.final"]
    return run


async def batch_texts(runtime: Any, clips: list[Clip], *, model: str = "whisper-tiny.en") -> list[str]:
    """The same files as batch requests (decode → preprocess → worker → post-processing)."""
    from theo_rtc.stt.service import TranscriptionRequest

    texts = []
    for clip in clips:
        audio = await runtime.transcriptions.load_audio(clip.path)
        result = await runtime.transcriptions.transcribe(
            audio, TranscriptionRequest(model=model, language="en")
        )
        texts.append(result.text)
    return texts


def session_wer(clips: list[Clip], run: SessionRun) -> float:
    """Corpus WER of everything the session finalised against every reference, in order."""
    return wer([" ".join(c.text for c in clips)], [run.text])


def batch_wer(clips: list[Clip], texts: list[str]) -> float:
    return wer([" ".join(c.text for c in clips)], [" ".join(texts)])


def _pauses(spec: str) -> list[Pause]:
    """``silence,white-50,pink-45``: kinds, and levels in dBFS for noise."""
    pauses = []
    for item in spec.split(","):
        kind, _, level = item.partition("-")
        pauses.append(Pause(2.0, kind, -float(level)) if level else Pause(2.0, kind))
    return pauses


async def _main(args: argparse.Namespace) -> None:
    from theo_rtc.config import TheoSettings
    from theo_rtc.runtime import TheoRuntime

    async with TheoRuntime(TheoSettings(home=args.home.resolve())) as runtime:
        print(f"{args.model}; pauses of 2 s; WER of one session vs batch requests of the same files")
        header = f"{'set':<26}{'pause':<18}{'vad':<9}{'session':>8}{'batch':>8}{'ratio':>7}{'in pauses':>10}"
        print(header)
        for set_name in args.sets.split(","):
            clips = load_clips(set_name, args.limit)
            base = batch_wer(clips, await batch_texts(runtime, clips, model=args.model))
            for pause in _pauses(args.pauses):
                for vad_name in args.vad.split(","):
                    run = await run_session(
                        runtime, clips, pause, VADS[vad_name], model=args.model, context=args.context
                    )
                    got = session_wer(clips, run)
                    ratio = got / base if base else float("inf") if got else 1.0
                    print(
                        f"{set_name:<26}{pause.label:<18}{vad_name:<9}{got:>8.3f}{base:>8.3f}"
                        f"{ratio:>7.2f}{len(run.words_in_pauses()):>10}",
                        flush=True,
                    )
                    if args.verbose:
                        for (start, end), clip in zip(run.spans, clips, strict=True):
                            print(f"    ref {start:6.1f}-{end:6.1f} {normalize(clip.text)}")
                        for final in run.finals:
                            span = f"{final['start_ms'] / 1000:6.1f}-{final['end_ms'] / 1000:6.1f}"
                            print(f"    hyp {span} {final['text']}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", default="librivox_pocketsphinx_en,fleurs_en,ljspeech_en")
    parser.add_argument("--limit", type=int, default=10, help="utterances per set")
    parser.add_argument("--vad", default="default,short,livekit")
    parser.add_argument("--pauses", default="silence,white-50,pink-50,pink-45")
    parser.add_argument("--model", default="whisper-tiny.en")
    parser.add_argument("--home", type=Path, default=Path(".cache/theo-test-home"))
    parser.add_argument("--context", action="store_true", help="cross_segment_context on")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
