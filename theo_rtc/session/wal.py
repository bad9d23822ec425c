"""In-memory write-ahead log of commits: where to resume after a worker crash, without duplicates."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class CommitLog:
    last_committed_segment_id: int = -1
    last_committed_buffer_offset: int = 0
    last_committed_timestamp_ms: int = 0

    def record(self, segment_id: int, buffer_offset: int, timestamp_ms: int) -> None:
        if segment_id <= self.last_committed_segment_id:
            raise ValueError(
                f"segment {segment_id} already committed (last {self.last_committed_segment_id})"
            )
        self.last_committed_segment_id = segment_id
        self.last_committed_buffer_offset = buffer_offset
        self.last_committed_timestamp_ms = timestamp_ms
