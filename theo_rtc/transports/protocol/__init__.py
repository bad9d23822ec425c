"""Wire protocols over the session's events: Theo's own and OpenAI's Realtime transcription dialect."""

from theo_rtc.transports.protocol.dialect import Dialect, UnknownEventError, parse_event
from theo_rtc.transports.protocol.openai_transcription import OpenAIDialect
from theo_rtc.transports.protocol.theo import TheoDialect

__all__ = ["Dialect", "OpenAIDialect", "TheoDialect", "UnknownEventError", "parse_event"]
