"""A call's echo canceller wired between its sink (far end: what plays) and its session (near end: the
microphone). :class:`~theo_rtc.transports.call.Call` attaches one while its agent listens over its own voice.
"""

from __future__ import annotations

import logging

from theo_rtc.preprocessing.echo import EchoCanceller
from theo_rtc.session import StreamingSession
from theo_rtc.transports.sink import AudioSink

log = logging.getLogger("theo.echo")

__all__ = ["attach", "detach"]


def attach(sink: AudioSink, session: StreamingSession) -> EchoCanceller | None:
    """Tap ``sink``'s playout and filter ``session``'s input; None where the sink cannot report what it
    plays (a WebSocket's client plays out of sight) or the APM is not installed."""
    if not sink.taps_playout:
        log.info("%s: no echo cancellation: %s cannot report what it plays", session.id, type(sink).__name__)
        return None
    try:
        import livekit.rtc  # noqa: F401 - its AudioProcessingModule does the work
    except ImportError:
        log.warning("%s: no echo cancellation: it needs theo-rtc[livekit] (livekit.rtc)", session.id)
        return None
    echo = EchoCanceller(clock=sink.clock, name=session.id)
    sink.add_playout_tap(echo)
    session.input_filter = echo.process
    log.info("%s: echo cancellation on, far end: what %s plays", session.id, type(sink).__name__)
    return echo


def detach(echo: EchoCanceller, sink: AudioSink | None, session: StreamingSession) -> None:
    if sink is not None:
        sink.remove_playout_tap(echo)
    if session.input_filter == echo.process:
        session.input_filter = None
    echo.close()
