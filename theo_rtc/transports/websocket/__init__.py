"""``WS /v1/realtime``: Theo's and OpenAI's realtime dialects over one :class:`~theo_rtc.transports.Call`."""

from theo_rtc.transports.websocket.endpoint import router
from theo_rtc.transports.websocket.output import WebSocketOutput

__all__ = ["WebSocketOutput", "router"]
