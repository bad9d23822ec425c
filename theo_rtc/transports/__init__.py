"""Transports adapt I/O only; each builds a :class:`Call` (session + speaker + registry slot).

    websocket/   WS /v1/realtime (Theo and OpenAI transcription dialects)
    webrtc/      POST /v1/realtime/calls: aiortc peer, paced track (observed playout)
    livekit/     Theo as a LiveKit room participant (``theo agent``)
    protocol/    wire events <-> session events

The names below load on first use: ``theo livekit ...`` imports only the small LiveKit helpers it needs,
not the whole runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from theo_rtc.transports.call import Call, CallOutput
    from theo_rtc.transports.registry import SessionRegistry, TooManySessionsError
    from theo_rtc.transports.sink import AudioSink, PlaybackResult, WebSocketAudioSink
    from theo_rtc.transports.speaker import Speaker

_WHERE = {
    "AudioSink": "sink",
    "Call": "call",
    "CallOutput": "call",
    "PlaybackResult": "sink",
    "SessionRegistry": "registry",
    "Speaker": "speaker",
    "TooManySessionsError": "registry",
    "WebSocketAudioSink": "sink",
}

__all__ = [
    "AudioSink",
    "Call",
    "CallOutput",
    "PlaybackResult",
    "SessionRegistry",
    "Speaker",
    "TooManySessionsError",
    "WebSocketAudioSink",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
