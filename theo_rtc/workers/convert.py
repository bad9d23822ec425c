"""Conversions between backend dataclasses and the STT worker protobuf messages."""

from __future__ import annotations

from theo_rtc.backends.types import (
    StreamHypothesis,
    Task,
    TranscribeOptions,
    TranscriptionInfo,
    TranscriptSegment,
    Word,
)
from theo_rtc.proto import stt_worker_pb2 as pb


def options_to_pb(options: TranscribeOptions) -> pb.TranscribeOptions:
    return pb.TranscribeOptions(
        language=options.language or "",
        task=options.task.value,
        initial_prompt=options.initial_prompt or "",
        temperature=options.temperature,
        word_timestamps=options.word_timestamps,
        hot_words=list(options.hot_words),
        beam_size=options.beam_size or 0,
    )


def options_from_pb(message: pb.TranscribeOptions) -> TranscribeOptions:
    return TranscribeOptions(
        language=message.language or None,
        task=Task(message.task or Task.TRANSCRIBE.value),
        initial_prompt=message.initial_prompt or None,
        temperature=message.temperature,
        word_timestamps=message.word_timestamps,
        hot_words=tuple(message.hot_words),
        beam_size=message.beam_size or None,
    )


def _words_to_pb(words: tuple[Word, ...]) -> list[pb.Word]:
    return [pb.Word(word=w.word, start=w.start, end=w.end, probability=w.probability) for w in words]


def _words_from_pb(words: object) -> tuple[Word, ...]:
    return tuple(Word(w.word, w.start, w.end, w.probability) for w in words)  # type: ignore[attr-defined]


def segment_to_pb(segment: TranscriptSegment) -> pb.Segment:
    return pb.Segment(
        id=segment.id,
        start=segment.start,
        end=segment.end,
        text=segment.text,
        tokens=list(segment.tokens),
        avg_logprob=segment.avg_logprob,
        compression_ratio=segment.compression_ratio,
        no_speech_prob=segment.no_speech_prob,
        temperature=segment.temperature,
        words=_words_to_pb(segment.words),
    )


def segment_from_pb(message: pb.Segment) -> TranscriptSegment:
    return TranscriptSegment(
        id=message.id,
        start=round(message.start, 3),
        end=round(message.end, 3),
        text=message.text,
        tokens=tuple(message.tokens),
        avg_logprob=message.avg_logprob,
        compression_ratio=message.compression_ratio,
        no_speech_prob=message.no_speech_prob,
        temperature=message.temperature,
        words=_words_from_pb(message.words),
    )


def info_to_pb(info: TranscriptionInfo) -> pb.TranscriptionInfo:
    return pb.TranscriptionInfo(
        language=info.language, language_probability=info.language_probability, duration=info.duration
    )


def info_from_pb(message: pb.TranscriptionInfo) -> TranscriptionInfo:
    return TranscriptionInfo(message.language, message.language_probability, message.duration)


def hypothesis_to_pb(session_id: str, h: StreamHypothesis) -> pb.TranscriptEvent:
    return pb.TranscriptEvent(
        session_id=session_id,
        is_final=h.is_final,
        text=h.text,
        words=_words_to_pb(h.words),
        window_seconds=h.window_seconds,
        language=h.language,
        avg_logprob=h.avg_logprob,
        no_speech_prob=h.no_speech_prob,
        prepared=h.prepared,
    )


def hypothesis_from_pb(message: pb.TranscriptEvent) -> StreamHypothesis:
    return StreamHypothesis(
        is_final=message.is_final,
        text=message.text,
        words=_words_from_pb(message.words),
        window_seconds=message.window_seconds,
        language=message.language,
        avg_logprob=message.avg_logprob,
        no_speech_prob=message.no_speech_prob,
        prepared=message.prepared,
    )
