"""Where each utterance's audio lies in the ring buffer, and the left context a continuation is decoded with.

Offsets are the ring buffer's (samples at 16 kHz since the session started).
"""

from __future__ import annotations

import numpy as np

from theo_rtc.backends.types import STT_SAMPLE_RATE, AudioArray, Word
from theo_rtc.session.ring_buffer import RingBuffer
from theo_rtc.session.transcript import words_after

# A segment whose speech starts within _LEFT_CONTEXT_GAP of VAD's previous end of speech continues it (VAD
# split a sentence at a pause; a forced or mid-speech commit): the worker decodes it after the previous
# segment's audio (at most _LEFT_CONTEXT), and the words up to the previous final's last one are dropped.
# Cut off from what precedes it, whisper-tiny.en garbles a continuation's first words ("may be considered"
# -> "Maybe consider it"): LJSpeech in one session, WER 8.3 % -> 6.5 % (400 ms silence) and 7.1 % (300 ms).
# Longer gaps are separate utterances; reaching back over them makes text up in the pause (16-20 % WER).
_LEFT_CONTEXT_GAP = STT_SAMPLE_RATE
# VAD hears speech start at its first clearly voiced frame, after a soft onset ("Printing" from 100 ms of
# pre-roll came out as "counting"): the decode window never starts closer than this to it.
_MIN_PREROLL = STT_SAMPLE_RATE // 4
_LEFT_CONTEXT = 10 * STT_SAMPLE_RATE  # windows starting mid-word (a 3 s cap) lose words


class Segments:
    """The segment in progress, what the worker has of it, and what came before it."""

    def __init__(self, ring: RingBuffer) -> None:
        self._ring = ring
        self.id = 0
        self.start: int | None = None  # offset where the utterance in progress starts
        self.floor = 0  # first offset not yet claimed by an issued commit
        self.sent = 0  # offset up to which the worker has this utterance's audio
        self.window_start = 0  # where the worker's window for this utterance starts (left context)
        self.previous: tuple[int, int] | None = None  # (start, end) of the last commit
        self.last_speech_end: int | None = None  # offset of VAD's last end of speech
        self.spoken_until: tuple[int, int] | None = None  # (segment id, end offset of its final's last word)
        self.timestamped_words = True  # the engine times its words, so left context can be dropped

    @property
    def in_progress(self) -> bool:
        return self.start is not None

    def speech_start(self, offset: int, preroll: int) -> tuple[int, bool]:
        """Where a segment for speech VAD heard start at ``offset`` begins, and whether it continues the
        previous one (a pause of at most _LEFT_CONTEXT_GAP)."""
        paused = None if self.last_speech_end is None else offset - self.last_speech_end
        start = max(self.floor, offset - max(preroll, _MIN_PREROLL), self._ring.oldest)
        return start, paused is not None and 0 <= paused <= _LEFT_CONTEXT_GAP

    def begin(self, start: int, *, continues: bool) -> None:
        self.id += 1
        self.start = start
        self.window_start = self._left_context_start(start) if continues else start
        self.sent = self.window_start

    def end(self, end: int) -> None:
        """The segment in progress was committed up to ``end``."""
        assert self.start is not None
        self.previous = (self.start, end)
        self.floor = end
        self.start = None

    def clear(self) -> None:
        """Uncommitted audio was discarded: nothing before the write offset is continued."""
        self.start = None
        self.floor = self._ring.write_offset
        self.previous = self.last_speech_end = None

    def unsent(self, end: int) -> AudioArray:
        """The audio up to ``end`` the worker does not have yet (now counted as sent)."""
        audio = self._ring.read(self.sent, end) if end > self.sent else np.zeros(0, np.float32)
        self.sent = max(self.sent, end)
        return audio

    def resend(self) -> AudioArray:
        """The window of the segment in progress so far, for a new stream (as much as the ring still has)."""
        self.window_start = max(self.window_start, self._ring.oldest)
        audio = self._ring.read(self.window_start, self._ring.write_offset)
        self.sent = self._ring.write_offset
        return audio

    def _left_context_start(self, start: int) -> int:
        previous = self.previous
        if previous is None or not self.timestamped_words:
            return start
        return max(previous[0], start - _LEFT_CONTEXT, self._ring.oldest)

    def context_boundary(self, segment_id: int, start: int) -> int:
        """Where a continuation's own words begin: after the previous final's last word (a word VAD heard
        as pause belongs to the new segment), or at its start when that final had no words."""
        if self.spoken_until is not None and self.spoken_until[0] == segment_id - 1:
            return min(start, self.spoken_until[1])
        return start

    def own_words(
        self, words: tuple[Word, ...], segment_id: int, start: int, window_start: int
    ) -> tuple[Word, ...] | None:
        """A segment's own words when its window started before it (left context), else None."""
        if window_start >= start:
            return None
        boundary = self.context_boundary(segment_id, start) - window_start
        return words_after(words, boundary / STT_SAMPLE_RATE)

    def spoke(self, segment_id: int, window_start: int, words: tuple[Word, ...]) -> None:
        """A final's words (window time): where its last word ends bounds the next segment's own words."""
        if words:
            self.spoken_until = (segment_id, window_start + round(words[-1].end * STT_SAMPLE_RATE))
