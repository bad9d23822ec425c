"""Transports adapt I/O only; each builds a :class:`Call` (session + speaker + registry slot).

websocket/   WS /v1/realtime (Theo and OpenAI transcription dialects)
webrtc/      POST /v1/realtime/calls: aiortc peer, paced track (observed playout)
livekit/     Theo as a LiveKit room participant
protocol/    wire events <-> session events
"""

from theo_rtc.transports.call import Call, CallOutput
from theo_rtc.transports.registry import SessionRegistry, TooManySessionsError
from theo_rtc.transports.sink import AudioSink, PlaybackResult, WebSocketAudioSink
from theo_rtc.transports.speaker import Speaker

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
