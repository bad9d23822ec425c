"""``/v1/realtime``: Theo's and OpenAI's realtime dialects over the streaming session core."""

from theo_rtc.server.realtime.dialect import Dialect
from theo_rtc.server.realtime.openai_protocol import OpenAIDialect
from theo_rtc.server.realtime.output import WebSocketOutput
from theo_rtc.server.realtime.theo_protocol import TheoDialect

__all__ = ["Dialect", "OpenAIDialect", "TheoDialect", "WebSocketOutput"]
