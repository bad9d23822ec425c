"""Decode any container/codec PyAV understands into mono float32 at the source rate."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from theo_rtc.backends.types import AudioArray
from theo_rtc.errors import AudioTooLongError, InvalidAudioError


@dataclass(frozen=True, slots=True)
class DecodedAudio:
    samples: AudioArray
    sample_rate: int
    source_channels: int
    source_format: str

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def decode_audio(source: bytes | Path, *, max_seconds: float | None = None) -> DecodedAudio:
    """Decode ``source`` to mono float32 at its own sample rate.

    Raises :class:`InvalidAudioError` for anything that is not decodable audio (empty, random bytes,
    truncated before the first frame, video without audio) and :class:`AudioTooLongError` as soon as the
    declared or decoded duration exceeds ``max_seconds``, before the whole file is held in memory.
    """
    if isinstance(source, bytes) and not source:
        raise InvalidAudioError("the audio file is empty", param="file")
    stream_source = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    try:
        container = av.open(stream_source, mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise InvalidAudioError(f"could not read the audio file: {_describe(exc)}", param="file") from exc

    with container:
        if not container.streams.audio:
            raise InvalidAudioError("the file has no audio stream", param="file")
        stream = container.streams.audio[0]
        rate = int(stream.rate or stream.codec_context.sample_rate or 0)
        if rate <= 0:
            raise InvalidAudioError("the audio stream declares no sample rate", param="file")
        channels = stream.codec_context.channels or 1
        if max_seconds is not None and container.duration is not None:
            declared = container.duration / av.time_base
            if declared > max_seconds * 1.01:
                raise AudioTooLongError(_too_long(declared, max_seconds), param="file")

        # libswresample only downmixes and converts to float here; rate conversion is soxr's job.
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        limit = None if max_seconds is None else int(max_seconds * rate) + rate
        chunks: list[np.ndarray] = []
        total = 0
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += len(chunk)
                if limit is not None and total > limit:
                    raise AudioTooLongError(_too_long(total / rate, max_seconds or 0.0), param="file")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            # A truncated file still yields what decoded before the damage; only fail if nothing did.
            if not chunks:
                raise InvalidAudioError(
                    f"could not decode the audio: {_describe(exc)}", param="file"
                ) from exc

    if not chunks:
        raise InvalidAudioError("the file contains no audio samples", param="file")
    samples = np.concatenate(chunks).astype(np.float32, copy=False)
    if not np.all(np.isfinite(samples)):
        samples = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)
    return DecodedAudio(samples, rate, int(channels), container.format.name)


def _too_long(seconds: float, limit: float) -> str:
    return (
        f"the audio is {seconds:.0f} s long; this server accepts at most {limit:.0f} s "
        "(raise THEO_MAX_AUDIO_SECONDS to allow longer files)"
    )


def _describe(exc: BaseException) -> str:
    # FFmpeg errors stringify as "[Errno N] Reason: 'path'"; the reason alone is what a user can act on.
    reason = getattr(exc, "strerror", None) or str(exc).strip() or type(exc).__name__
    return str(reason).lower()
