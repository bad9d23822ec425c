"""The session's input gate: mute-on-speak with a reference count.

Every speaker that plays audio holds the gate while its audio can be heard by the microphone. Holds are
counted, so one speaker finishing never reopens the gate under another one still playing, and releasing a
hold twice is harmless. Today a held gate drops input before VAD; the voice agent's barge-in will keep
listening instead (a policy of the gate, not of each speaker).
"""

from __future__ import annotations

__all__ = ["GateHold", "InputGate"]


class GateHold:
    """One holder's claim on the gate; :meth:`release` is idempotent."""

    __slots__ = ("_gate", "reason")

    def __init__(self, gate: InputGate, reason: str) -> None:
        self._gate: InputGate | None = gate
        self.reason = reason

    def release(self) -> None:
        gate, self._gate = self._gate, None
        if gate is not None:
            gate._holders.remove(self)

    def __enter__(self) -> GateHold:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


class InputGate:
    def __init__(self) -> None:
        self._holders: list[GateHold] = []

    def hold(self, reason: str = "speaking") -> GateHold:
        holder = GateHold(self, reason)
        self._holders.append(holder)
        return holder

    @property
    def closed(self) -> bool:
        """True while anyone holds the gate: input is not transcribed."""
        return bool(self._holders)

    @property
    def holders(self) -> int:
        return len(self._holders)
