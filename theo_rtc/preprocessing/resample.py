"""Rate conversion with soxr (high quality, streaming-capable)."""

from __future__ import annotations

import numpy as np
import soxr

from theo_rtc.backends.types import AudioArray


class Resampler:
    """Converts to ``target_rate``; keeps filter state between calls so frames can be fed one at a time."""

    def __init__(self, source_rate: int, target_rate: int) -> None:
        self.source_rate = source_rate
        self.target_rate = target_rate
        self._stream = (
            None
            if source_rate == target_rate
            else soxr.ResampleStream(source_rate, target_rate, 1, "float32", "HQ")
        )

    def process(self, samples: AudioArray, *, last: bool = False) -> AudioArray:
        if self._stream is None:
            return samples
        out: AudioArray = self._stream.resample_chunk(samples, last=last)
        return out

    @staticmethod
    def oneshot(samples: AudioArray, source_rate: int, target_rate: int) -> AudioArray:
        if source_rate == target_rate:
            return samples
        out: AudioArray = soxr.resample(samples, source_rate, target_rate, "HQ").astype(
            np.float32, copy=False
        )
        return out


class PCM16Resampler:
    """Outgoing speech: PCM16 chunks at whatever rate each engine makes them → int16 at ``target_rate``,
    one stream per source rate (the filter state carries across chunks), flushed at the end of speech.

    ``quality`` is soxr's: "HQ" holds back up to ~30 ms to filter well and gives it in bursts; "QQ"
    (cubic, no low-pass) gives each chunk's samples at once, for a reference that must keep time (echo
    cancellation's far end)."""

    def __init__(self, target_rate: int, *, quality: str = "HQ") -> None:
        self.target_rate = target_rate
        self.quality = quality
        self._streams: dict[int, soxr.ResampleStream] = {}

    def process(self, pcm16: bytes, sample_rate: int) -> np.ndarray:
        samples = np.frombuffer(pcm16[: len(pcm16) // 2 * 2], dtype="<i2")
        if sample_rate == self.target_rate:
            return samples.astype(np.int16, copy=False)
        stream = self._streams.get(sample_rate)
        if stream is None:
            stream = self._streams[sample_rate] = soxr.ResampleStream(
                sample_rate, self.target_rate, 1, dtype="int16", quality=self.quality
            )
        return np.asarray(stream.resample_chunk(samples), dtype=np.int16)

    def flush(self) -> np.ndarray:
        """What the filters still hold; the streams start afresh after it."""
        empty = np.zeros(0, np.int16)
        tails = [stream.resample_chunk(empty, last=True) for stream in self._streams.values()]
        self._streams.clear()
        return np.concatenate([empty, *tails]).astype(np.int16, copy=False)

    def reset(self) -> None:
        self._streams.clear()
