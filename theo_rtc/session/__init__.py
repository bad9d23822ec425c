"""Transport-agnostic streaming sessions: state machine, ring buffer, VAD, LocalAgreement, recovery."""

from theo_rtc.session.config import SessionConfig
from theo_rtc.session.input_gate import GateHold, InputGate
from theo_rtc.session.local_agreement import LocalAgreement
from theo_rtc.session.ring_buffer import BufferOverrunError, RingBuffer
from theo_rtc.session.session import StreamingSession
from theo_rtc.session.state import SessionState, StateMachine, Timeouts
from theo_rtc.session.transport import SessionOutput
from theo_rtc.session.wal import CommitLog

__all__ = [
    "BufferOverrunError",
    "CommitLog",
    "GateHold",
    "InputGate",
    "LocalAgreement",
    "RingBuffer",
    "SessionConfig",
    "SessionOutput",
    "SessionState",
    "StateMachine",
    "StreamingSession",
    "Timeouts",
]
