"""Session state machine (seed §4.6): INIT → ACTIVE → SILENCE → HOLD → CLOSING → CLOSED."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class SessionState(StrEnum):
    INIT = "init"
    ACTIVE = "active"
    SILENCE = "silence"
    HOLD = "hold"
    CLOSING = "closing"
    CLOSED = "closed"


_ALLOWED = {
    # INIT -> SILENCE: audio arrives but nobody speaks yet (the SILENCE/HOLD timeouts then apply).
    SessionState.INIT: {SessionState.ACTIVE, SessionState.SILENCE, SessionState.CLOSING, SessionState.CLOSED},
    SessionState.ACTIVE: {SessionState.SILENCE, SessionState.CLOSING, SessionState.CLOSED},
    SessionState.SILENCE: {SessionState.ACTIVE, SessionState.HOLD, SessionState.CLOSING, SessionState.CLOSED},
    SessionState.HOLD: {SessionState.ACTIVE, SessionState.CLOSING, SessionState.CLOSED},
    SessionState.CLOSING: {SessionState.CLOSED},
    SessionState.CLOSED: set(),
}


_IDLE_STATES = frozenset({SessionState.INIT, SessionState.SILENCE, SessionState.HOLD})


@dataclass(frozen=True, slots=True)
class Timeouts:
    init_s: float = 30.0  # no audio at all -> CLOSED
    silence_s: float = 30.0  # SILENCE -> HOLD
    hold_s: float = 300.0  # HOLD -> CLOSING
    closing_s: float = 2.0  # CLOSING -> CLOSED (flush budget)


class StateMachine:
    def __init__(
        self,
        timeouts: Timeouts,
        on_change: Callable[[SessionState, SessionState], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeouts = timeouts
        self.state = SessionState.INIT
        self._on_change = on_change
        self._clock = clock
        self.entered_at = clock()
        # Set by whoever knows the session is busy without incoming audio (speaking): while it returns True,
        # the INIT/SILENCE/HOLD timeouts do not run.
        self.busy: Callable[[], bool] | None = None

    def transition(self, new: SessionState) -> bool:
        if new == self.state:
            return False
        if new not in _ALLOWED[self.state]:
            return False
        old, self.state = self.state, new
        self.entered_at = self._clock()
        self._on_change(old, new)
        return True

    def expired(self) -> SessionState | None:
        """The state a timeout moves to now, if the current state's timeout has passed."""
        if self.state in _IDLE_STATES and self.busy is not None and self.busy():
            # Speaking (a held input gate) is not idleness: the timeout starts once the session goes quiet.
            self.entered_at = self._clock()
            return None
        elapsed = self._clock() - self.entered_at
        if self.state == SessionState.INIT and elapsed >= self.timeouts.init_s:
            return SessionState.CLOSED
        if self.state == SessionState.SILENCE and elapsed >= self.timeouts.silence_s:
            return SessionState.HOLD
        if self.state == SessionState.HOLD and elapsed >= self.timeouts.hold_s:
            return SessionState.CLOSING
        if self.state == SessionState.CLOSING and elapsed >= self.timeouts.closing_s:
            return SessionState.CLOSED
        return None
