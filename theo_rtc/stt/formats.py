"""Render transcriptions in OpenAI's response formats: json, verbose_json, text, srt, vtt."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from theo_rtc.backends.types import TranscriptSegment
from theo_rtc.stt.service import TranscriptionResult


class ResponseFormat(StrEnum):
    JSON = "json"
    VERBOSE_JSON = "verbose_json"
    TEXT = "text"
    SRT = "srt"
    VTT = "vtt"


CONTENT_TYPES = {
    ResponseFormat.JSON: "application/json",
    ResponseFormat.VERBOSE_JSON: "application/json",
    ResponseFormat.TEXT: "text/plain; charset=utf-8",
    ResponseFormat.SRT: "application/x-subrip; charset=utf-8",
    ResponseFormat.VTT: "text/vtt; charset=utf-8",
}


def to_json(result: TranscriptionResult) -> dict[str, Any]:
    return {"text": result.text, "usage": {"type": "duration", "seconds": round(result.info.duration, 3)}}


def to_verbose_json(result: TranscriptionResult, *, words: bool, segments: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "task": result.task,
        "language": result.info.language,
        "duration": round(result.info.duration, 3),
        "text": result.text,
    }
    if segments:
        body["segments"] = [_segment_json(s) for s in result.segments]
    if words:
        body["words"] = [
            {"word": w.word.strip(), "start": round(w.start, 3), "end": round(w.end, 3)}
            for s in result.segments
            for w in s.words
        ]
    return body


def _segment_json(s: TranscriptSegment) -> dict[str, Any]:
    return {
        "id": s.id,
        "seek": int(s.start * 100),
        "start": round(s.start, 3),
        "end": round(s.end, 3),
        "text": s.text,
        "tokens": list(s.tokens),
        "temperature": s.temperature,
        "avg_logprob": s.avg_logprob,
        "compression_ratio": s.compression_ratio,
        "no_speech_prob": s.no_speech_prob,
    }


def _timestamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def to_srt(result: TranscriptionResult) -> str:
    blocks = [
        f"{i}\n{_timestamp(s.start, ',')} --> {_timestamp(s.end, ',')}\n{s.text.strip()}\n"
        for i, s in enumerate(result.segments, start=1)
    ]
    return "\n".join(blocks)


def to_vtt(result: TranscriptionResult) -> str:
    blocks = [
        f"{_timestamp(s.start, '.')} --> {_timestamp(s.end, '.')}\n{s.text.strip()}\n"
        for s in result.segments
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def render(result: TranscriptionResult, fmt: ResponseFormat, *, words: bool = False) -> str | dict[str, Any]:
    if fmt is ResponseFormat.JSON:
        return to_json(result)
    if fmt is ResponseFormat.VERBOSE_JSON:
        return to_verbose_json(result, words=words)
    if fmt is ResponseFormat.TEXT:
        return result.text + "\n"
    if fmt is ResponseFormat.SRT:
        return to_srt(result)
    return to_vtt(result)
