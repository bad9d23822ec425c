"""OpenAI Realtime conversation sessions (speech to speech, ``?model=gpt-realtime``) backed by Theo's STT,
the voice agent's LLM client and TTS."""

from theo_rtc.transports.protocol.openai_conversation.dialect import OpenAIConversationDialect

__all__ = ["OpenAIConversationDialect"]
