"""Pre-allocated ring buffer of session audio with a read fence (seed §4.7).

Offsets are absolute sample counts since the session started. Audio before the fence (the last committed
offset) may be overwritten; audio after it is kept for recovery and must never be overwritten, so writers
check :attr:`needs_force_commit` (90 % full) and commit before that can happen.
"""

from __future__ import annotations

import numpy as np

from theo_rtc.backends.types import STT_SAMPLE_RATE, AudioArray


class BufferOverrunError(RuntimeError):
    """A write would overwrite uncommitted audio."""


class RingBuffer:
    def __init__(
        self, seconds: float = 60.0, sample_rate: int = STT_SAMPLE_RATE, force_commit_ratio: float = 0.9
    ):
        self.capacity = int(seconds * sample_rate)
        self.sample_rate = sample_rate
        self._data = np.zeros(self.capacity, dtype=np.float32)
        self.write_offset = 0  # total samples ever written
        self.fence = 0  # last committed offset
        self._force_at = int(self.capacity * force_commit_ratio)

    @property
    def uncommitted(self) -> int:
        return self.write_offset - self.fence

    @property
    def needs_force_commit(self) -> bool:
        return self.uncommitted >= self._force_at

    def write(self, samples: AudioArray) -> int:
        """Copy ``samples`` in place (no allocation); returns the offset they start at."""
        n = len(samples)
        if self.uncommitted + n > self.capacity:
            raise BufferOverrunError(
                f"writing {n} samples would overwrite uncommitted audio"
                f" ({self.uncommitted} of {self.capacity})"
            )
        start = self.write_offset
        position = start % self.capacity
        first = min(n, self.capacity - position)
        self._data[position : position + first] = samples[:first]
        if first < n:
            self._data[: n - first] = samples[first:]
        self.write_offset += n
        return start

    def read(self, start: int, end: int | None = None) -> AudioArray:
        """A copy of ``[start, end)``; ``start`` must not precede the oldest sample still held."""
        end = self.write_offset if end is None else end
        if start < self.write_offset - self.capacity or start > end or end > self.write_offset:
            raise IndexError(
                f"[{start}, {end}) is not in the buffer (holds {self.oldest}..{self.write_offset})"
            )
        n = end - start
        position = start % self.capacity
        first = min(n, self.capacity - position)
        if first == n:
            return self._data[position : position + n].copy()
        return np.concatenate([self._data[position:], self._data[: n - first]])

    @property
    def oldest(self) -> int:
        return max(0, self.write_offset - self.capacity)

    def commit(self, offset: int) -> None:
        """Advance the read fence: audio before ``offset`` is no longer needed for recovery."""
        if offset < self.fence or offset > self.write_offset:
            raise ValueError(f"fence {offset} outside [{self.fence}, {self.write_offset}]")
        self.fence = offset
