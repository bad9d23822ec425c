"""Decode any container/codec PyAV understands into mono float32 at the source rate."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from theo_rtc.backends.types import AudioArray
from theo_rtc.errors import AudioTooLongError, InvalidAudioError
from theo_rtc.preprocessing.resample import Resampler


@dataclass(frozen=True, slots=True)
class DecodedAudio:
    samples: AudioArray
    sample_rate: int
    source_channels: int
    source_format: str

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def decode_audio(
    source: bytes | Path, *, max_seconds: float | None = None, target_rate: int | None = None
) -> DecodedAudio:
    """Decode ``source`` to mono float32 at its own sample rate, or at ``target_rate`` (resampled while
    decoding, so what is held never depends on the source's rate or channel count).

    Raises :class:`InvalidAudioError` for anything that is not decodable audio (empty, random bytes,
    truncated before the first frame, video without audio) and :class:`AudioTooLongError` as soon as the
    declared or decoded duration exceeds ``max_seconds``: a stream whose header leaves its length unknown
    (FLAC without a sample count, a pipe) is stopped while it decodes, never held past the limit.
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
        try:
            rate = int(stream.rate or stream.codec_context.sample_rate or 0)
            channels = stream.codec_context.channels or 1
        except (AttributeError, ValueError, av.error.FFmpegError) as exc:
            # PyAV opens no decoder for a header it cannot use (a WAV with bits_per_sample=0, ...)
            raise InvalidAudioError(
                "the audio stream cannot be decoded (its header is unsupported or broken)", param="file"
            ) from exc
        if rate <= 0:
            raise InvalidAudioError("the audio stream declares no sample rate", param="file")
        declared: float | None = None
        if container.duration is not None:
            declared = container.duration / av.time_base
            if max_seconds is not None and declared > max_seconds * 1.01:
                raise AudioTooLongError(_too_long(declared, max_seconds), param="file")

        out_rate = target_rate or rate
        # libswresample only downmixes and converts to float here; rate conversion is soxr's job.
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        to_target = Resampler(rate, out_rate)
        limit = None if max_seconds is None else int(max_seconds * out_rate) + out_rate
        expected = int(min(declared or 60.0, 600.0) * out_rate * 1.02) + out_rate  # grows past it if need be
        buffer = _Samples(expected if limit is None else min(expected, limit))
        decoded_any = False
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    decoded_any = True
                    buffer.append(to_target.process(_mono(out)))
                if limit is not None and len(buffer) > limit:
                    raise AudioTooLongError(
                        _too_long(len(buffer) / out_rate, max_seconds or 0.0), param="file"
                    )
            for out in resampler.resample(None):
                buffer.append(to_target.process(_mono(out)))
        except av.error.FFmpegError as exc:
            # A truncated file still yields what decoded before the damage; only fail if nothing did.
            if not decoded_any:
                raise InvalidAudioError(
                    f"could not decode the audio: {_describe(exc)}", param="file"
                ) from exc
        except (ValueError, ZeroDivisionError, OverflowError) as exc:  # nonsense header fields
            raise InvalidAudioError(f"could not decode the audio: {_describe(exc)}", param="file") from exc
        buffer.append(to_target.process(np.zeros(0, np.float32), last=True))

    if not decoded_any or not len(buffer):
        raise InvalidAudioError("the file contains no audio samples", param="file")
    samples = buffer.view()
    if not np.all(np.isfinite(samples)):
        samples = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)
    return DecodedAudio(samples, out_rate, int(channels), container.format.name)


class _Samples:
    """A growing float32 buffer: doubled when full, so decoding holds about what it decoded (a list of
    chunks joined at the end holds it twice)."""

    def __init__(self, capacity: int) -> None:
        self._data = np.empty(max(capacity, 1024), np.float32)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, chunk: np.ndarray) -> None:
        end = self._size + len(chunk)
        if end > len(self._data):
            grown = np.empty(max(end, 2 * len(self._data)), np.float32)
            grown[: self._size] = self._data[: self._size]
            self._data = grown
        self._data[self._size : end] = chunk
        self._size = end

    def view(self) -> AudioArray:
        samples: AudioArray = self._data[: self._size]
        return samples


def _mono(frame: av.AudioFrame) -> AudioArray:
    samples: AudioArray = np.asarray(frame.to_ndarray().reshape(-1), dtype=np.float32)  # already flt
    return samples


def _too_long(seconds: float, limit: float) -> str:
    return (
        f"the audio is {seconds:.0f} s long; this server accepts at most {limit:.0f} s "
        "(raise THEO_MAX_AUDIO_SECONDS to allow longer files)"
    )


def _describe(exc: BaseException) -> str:
    # FFmpeg errors stringify as "[Errno N] Reason: 'path'"; the reason alone is what a user can act on.
    reason = getattr(exc, "strerror", None) or str(exc).strip() or type(exc).__name__
    return str(reason).lower()
