"""The voice agent: a streaming LLM answering a call's caller through the call's speaker.

Transport-agnostic: :class:`theo_rtc.transports.Call` attaches a :class:`VoiceAgent` to its session and
speaker, so the WebSocket, the WebRTC peer and LiveKit rooms all get the same agent.
"""

from theo_rtc.agent.agent import VoiceAgent
from theo_rtc.agent.chunker import SentenceChunker
from theo_rtc.agent.conversation import Conversation
from theo_rtc.agent.llm import ChatLLM, CircuitBreaker, LLMUnavailableError
from theo_rtc.agent.options import EMERGENCY_LINES, AgentOptions, LLMEndpoint

__all__ = [
    "EMERGENCY_LINES",
    "AgentOptions",
    "ChatLLM",
    "CircuitBreaker",
    "Conversation",
    "LLMEndpoint",
    "LLMUnavailableError",
    "SentenceChunker",
    "VoiceAgent",
]
