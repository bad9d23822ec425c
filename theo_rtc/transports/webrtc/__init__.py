"""WebRTC transport: a browser talks straight to Theo (``POST /v1/realtime/calls`` + ``oai-events``)."""

from theo_rtc.transports.webrtc.signaling import router

__all__ = ["router"]
