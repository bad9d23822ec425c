"""What the session says about speech: partials (LocalAgreement), finals and the cross-segment prompt.

Pure logic over the engine's hypotheses; the session decides when, and sends the events.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from theo_rtc.backends.types import (
    STT_SAMPLE_RATE,
    StreamHypothesis,
    STTArchitecture,
    TranscribeOptions,
    TranscriptSegment,
    Word,
)
from theo_rtc.session.config import SessionConfig
from theo_rtc.session.local_agreement import LocalAgreement
from theo_rtc.stt.service import TranscriptionRequest

CONTEXT_CHARS = 200  # cross-segment prompt length

# A final trusted as context for the next utterance (``cross_segment_context``). Made-up endings ("Thank you
# very much.") start with a word of probability <= 0.06 and come from a decode pass over the non-speech tail
# (no_speech_prob 0.44-0.75); loops (". . . .") compress far beyond Whisper's own 2.4 limit.
_CONTEXT_MIN_WORD_PROB = 0.25
_CONTEXT_MAX_NO_SPEECH = 0.4
_CONTEXT_MIN_LOGPROB = -0.7
_CONTEXT_MAX_COMPRESSION = 2.4


def ms(samples: int) -> int:
    """A ring-buffer offset (or length) in milliseconds."""
    return round(samples * 1000 / STT_SAMPLE_RATE)


def words_after(words: tuple[Word, ...], boundary_s: float) -> tuple[Word, ...]:
    """The words that start at or after ``boundary_s`` (seconds into the window)."""
    return tuple(w for w in words if w.start >= boundary_s)


def is_confident(hypothesis: StreamHypothesis) -> bool:
    """Whether a final may prompt the next utterance (see the thresholds above)."""
    if not hypothesis.words or not hypothesis.text:
        return False
    encoded = hypothesis.text.encode("utf-8")
    return (
        min(w.probability for w in hypothesis.words) >= _CONTEXT_MIN_WORD_PROB
        and hypothesis.no_speech_prob <= _CONTEXT_MAX_NO_SPEECH
        and hypothesis.avg_logprob >= _CONTEXT_MIN_LOGPROB
        and len(encoded) / len(zlib.compress(encoded)) <= _CONTEXT_MAX_COMPRESSION
    )


@dataclass(slots=True)
class PendingFinal:
    segment_id: int
    start: int
    end: int
    speech_end_at: float | None
    forced: bool
    window_start: int  # where the worker's window starts: ``start``, or earlier with left context


@dataclass(slots=True)
class PendingPartial:
    segment_id: int


class PromptContext:
    """The confident finals so far, as the prompt of the next utterance (``cross_segment_context``)."""

    def __init__(self) -> None:
        self.text = ""

    def add(self, text: str, hypothesis: StreamHypothesis) -> None:
        # Only a confident final may prompt the next utterance; a doubtful one also ends the chain, so neither
        # it nor what came before it is carried further.
        self.text = (self.text + " " + text).strip()[-CONTEXT_CHARS:] if is_confident(hypothesis) else ""

    @property
    def prompt(self) -> str:
        return self.text[-CONTEXT_CHARS:]


def transcribe_options(
    config: SessionConfig, architecture: STTArchitecture, context: PromptContext
) -> TranscribeOptions:
    """The engine options of a segment: the client's prompt, then (opt-in) the previous confident finals."""
    prompt_parts = []
    if config.prompt:
        prompt_parts.append(config.prompt)
    if config.cross_segment_context and context.text and architecture == STTArchitecture.ENCODER_DECODER:
        prompt_parts.append(context.prompt)
    return TranscribeOptions(
        language=config.language,
        initial_prompt=" ".join(prompt_parts) or None,
        word_timestamps=True,
        hot_words=tuple(config.hot_words),
    )


class PartialText:
    """A segment's partial transcript: the words LocalAgreement confirmed, then the newest decode's rest."""

    def __init__(self) -> None:
        self._agreement = LocalAgreement()
        self._last = ("", "")

    def reset(self) -> None:
        self._agreement.reset()
        self._last = ("", "")

    def update(self, words: list[str], *, stable: bool) -> tuple[str, str] | None:
        """``(text, unconfirmed)`` of a new decode, or None when it has no words or nothing new."""
        if stable:
            self._agreement.confirmed = words  # CTC/streaming-native partials are already stable
        else:
            self._agreement.update(words)
        text = "".join(self._agreement.confirmed).strip()
        unconfirmed = "".join(self._agreement.unconfirmed).strip()
        if not (text or unconfirmed) or (text, unconfirmed) == self._last:
            return None
        self._last = (text, unconfirmed)
        return self._last


def partial_words(hypothesis: StreamHypothesis, own: tuple[Word, ...] | None) -> list[str]:
    """A partial's words; ``own``: the segment's own words when it was decoded after left context."""
    if own is not None:
        return [w.word for w in own]  # left context: the previous final's words are not this segment's
    return [w.word for w in hypothesis.words] or [f" {w}" for w in hypothesis.text.split()]


def final_segment(
    pending: PendingFinal, hypothesis: StreamHypothesis, own: tuple[Word, ...] | None
) -> TranscriptSegment:
    """The final's segment in session time; ``own``: its own words when decoded after left context (the
    words of the previous segment's audio were emitted with its final)."""
    window_s = pending.window_start / STT_SAMPLE_RATE
    text, words = hypothesis.text, hypothesis.words
    if own is not None:
        text, words = "".join(w.word for w in own).strip(), own
    return TranscriptSegment(
        id=pending.segment_id,
        start=pending.start / STT_SAMPLE_RATE,
        end=pending.end / STT_SAMPLE_RATE,
        text=text,
        words=tuple(type(w)(w.word, w.start + window_s, w.end + window_s, w.probability) for w in words),
        avg_logprob=hypothesis.avg_logprob,
        no_speech_prob=hypothesis.no_speech_prob,
    )


def postprocess_request(config: SessionConfig) -> TranscriptionRequest:
    """What post-processing (entities, ITN, hot words) needs to know about the session."""
    return TranscriptionRequest(
        model=config.model,
        language=config.language,
        hot_words=tuple(config.hot_words),
        postprocess={
            k: v
            for k, v in {"itn": config.itn, "domain": config.domain, "language": config.language}.items()
            if v is not None
        },
    )


def final_fields(
    pending: PendingFinal, text: str, segments: list[TranscriptSegment], language: str | None
) -> dict[str, Any]:
    """The fields of ``transcript.final`` (after post-processing)."""
    words = [w for s in segments for w in s.words]
    return {
        "segment_id": pending.segment_id,
        "text": text,
        "start_ms": ms(pending.start),
        "end_ms": ms(pending.end),
        "language": language,
        "forced": pending.forced,
        "confidence": round(float(np.mean([w.probability for w in words])), 3) if words else None,
        "words": [
            {
                "word": w.word.strip(),
                "start_ms": round(w.start * 1000),
                "end_ms": round(w.end * 1000),
                "probability": round(w.probability, 3),
            }
            for w in words
        ],
    }
