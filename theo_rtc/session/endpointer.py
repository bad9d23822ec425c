"""When a turn ends (seed GAP 13): after VAD's silence, or, with ``endpointing: "smart"``, when the Smart
Turn model says the words so far make a finished turn.

In smart mode VAD's ``min_silence_ms`` is when the model is asked; if it judges the turn incomplete (a
pause while dictating a number, a trailing "and…") the turn stays open until the caller speaks again (the
same segment goes on) or ``max_silence_ms`` of silence has passed. The judgement is awaited by the audio
loop before the next frames are processed, so it always sees exactly the audio up to the pause, however
fast audio arrives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from theo_rtc.backends.types import STT_SAMPLE_RATE, AudioArray
from theo_rtc.errors import InvalidRequestError
from theo_rtc.registry import ModelStore
from theo_rtc.session.config import SessionConfig
from theo_rtc.vad.turn import MODEL_FILE, MODEL_NAME, SmartTurn, shared_smart_turn

__all__ = ["Endpointer", "endpointer_for"]

COMPLETE = 0.5  # Smart Turn's own decision threshold


class Endpointer:
    def __init__(self, model: SmartTurn | None, max_silence_ms: int) -> None:
        self.model = model
        self.max_silence = max_silence_ms * STT_SAMPLE_RATE // 1000
        self._pause: int | None = None  # offset where the pause being judged (or waited out) began
        self._judged = False

    @property
    def smart(self) -> bool:
        return self.model is not None

    def paused(self, offset: int) -> None:
        """VAD's end of speech in smart mode: judge before committing."""
        self._pause, self._judged = offset, False

    def resumed(self) -> None:
        """Speech again before the turn was committed: the same turn goes on."""
        self._pause = None

    async def judge(self, audio: Callable[[int], AudioArray]) -> tuple[int, float] | None:
        """If a pause waits for its judgement: ``(pause offset, probability complete)``; ``audio(end)``
        gives the utterance's audio up to ``end``."""
        if self._pause is None or self._judged or self.model is None:
            return None
        self._judged = True
        pause = self._pause
        probability = await asyncio.to_thread(self.model.complete, audio(pause))
        if probability >= COMPLETE:
            self._pause = None
        return pause, probability

    def overdue(self, write_offset: int, speaking: bool) -> int | None:
        """The pause offset once an incomplete turn's silence has lasted ``max_silence_ms``."""
        if self._pause is None or not self._judged or speaking:
            return None
        if write_offset - self._pause < self.max_silence:
            return None
        pause, self._pause = self._pause, None
        return pause


def endpointer_for(config: SessionConfig, store: ModelStore) -> Endpointer:
    """The session's endpointer; smart endpointing without its model installed is a clear error."""
    if config.endpointing == "silence" or not config.turn_detection:
        return Endpointer(None, config.max_silence_ms)
    if not store.is_installed(MODEL_NAME):
        raise InvalidRequestError(
            f"smart endpointing needs the {MODEL_NAME} model: theo pull {MODEL_NAME}", param="endpointing"
        )
    return Endpointer(shared_smart_turn(store.get(MODEL_NAME).path / MODEL_FILE), config.max_silence_ms)
