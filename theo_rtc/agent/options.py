"""The voice agent's options: one typed dataclass, defaults in one place, wire input validated into it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from theo_rtc.errors import InvalidRequestError

__all__ = ["DEFAULT_INSTRUCTIONS", "EMERGENCY_LINES", "AgentOptions", "LLMEndpoint", "instructions_for"]

# Spoken when no LLM answers: never dead air.
EMERGENCY_LINES = {
    "en": "Sorry, I'm having a technical problem. Please try again in a moment.",
    "pt": "Desculpe, estou com um problema técnico. Tente de novo em instantes.",
}


INTERRUPTIONS = ("barge-in", "mute", "off")
# A voice/phone persona: short spoken turns, no markup, graceful repair, interruptions acknowledged.
DEFAULT_INSTRUCTIONS = {
    "en": (
        "You are Theo, a voice assistant on a call. Speak the way people talk on the phone: one to three "
        "short sentences per turn, plain words, no lists, no markdown, no emoji, numbers written as they "
        "are said. If you did not understand, ask the caller to repeat. If the caller interrupted you, "
        "do not repeat what they already heard; answer what they said."
    ),
    "pt": (
        "Você é o Theo, um assistente de voz em uma ligação. Fale como as pessoas falam ao telefone: uma a "
        "três frases curtas por vez, palavras simples, sem listas, sem markdown, sem emoji, números como "
        "são falados. Se não entendeu, peça para a pessoa repetir. Se ela interromper, não repita o que ela "
        "já ouviu; responda ao que ela disse."
    ),
}


def instructions_for(language: str | None) -> str:
    return DEFAULT_INSTRUCTIONS.get((language or "en")[:2], DEFAULT_INSTRUCTIONS["en"])


@dataclass(frozen=True, slots=True)
class LLMEndpoint:
    """Any OpenAI-compatible chat-completions server: llama.cpp's, Ollama, vLLM, OpenAI."""

    base_url: str
    model: str
    api_key: str = "not-needed"  # local servers ignore it; the SDK insists on one

    def __repr__(self) -> str:  # never log a key
        return f"LLMEndpoint(base_url={self.base_url!r}, model={self.model!r})"


@dataclass(frozen=True, slots=True)
class AgentOptions:
    llm: LLMEndpoint
    fallback: LLMEndpoint | None = None
    instructions: str | None = None  # None: the persona for the session's language (DEFAULT_INSTRUCTIONS)
    greeting: str | None = None  # spoken when the call starts
    language: str | None = None  # of the persona and the emergency line; None: the session's
    temperature: float = 0.7
    max_tokens: int = 300
    first_token_timeout_s: float = 5.0  # past this the endpoint counts as failed and the fallback is tried
    stream_timeout_s: float = 30.0  # a whole response
    breaker_failures: int = 3  # consecutive failures that open the circuit around the primary
    breaker_reset_s: float = 30.0  # how long the primary is skipped once open
    max_history_messages: int = 40  # the sliding window: user + assistant messages kept whole
    # the prompt's size (approximate tokens: system prompt, facts, summary, window, tool definitions); the
    # answer's max_tokens come on top. 3000 + 300 fit the local runtime's 4096-token context
    context_budget_tokens: int = 3000
    # "barge-in": the caller's speech interrupts the answer; "mute": the microphone is muted while the agent
    # speaks; "off": the microphone stays open, nothing interrupts, what the caller said is answered next
    interruptions: Literal["barge-in", "mute", "off"] = "barge-in"
    tools: tuple[dict[str, Any], ...] = ()  # client tools: {name, description, parameters}, run by the client
    end_call_tool: bool = True  # offer the LLM ``end_call`` (hangs up after the goodbye has played)
    max_tool_rounds: int = 4  # LLM → tools → LLM rounds in one answer
    tts_model: str | None = None  # None: the session's tts_model, else the server default
    tts_voice: str | None = None
    # take the agent's own voice out of the microphone while it stays open (barge-in, off), where the
    # transport reports what it plays (WebRTC, LiveKit); off: a headset caller, or a client that cancels
    echo_cancellation: bool = True
    # a short filler in the agent's voice ("hmm", "one moment") when no piece of the answer is ready for
    # speech this long after the turn went to the LLM (see theo_rtc/agent/fillers.py)
    fillers: bool = True
    filler_delay_s: float = 0.6

    def updated(self, changes: dict[str, Any]) -> AgentOptions:
        """These options with a client's ``changes`` (wire names = field names; ``llm``/``fallback`` as
        objects with ``base_url``, ``model``, ``api_key``). Raises ``invalid_value`` naming the field."""
        known = {f.name: f for f in dataclasses.fields(self)}
        values: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in known:
                raise InvalidRequestError(f"unknown agent option {name!r}", param=f"agent.{name}")
            values[name] = _checked(name, value, getattr(self, name))
        return dataclasses.replace(self, **values)


def _checked(name: str, value: Any, current: Any) -> Any:
    param = f"agent.{name}"
    if name in ("llm", "fallback"):
        if value is None and name == "fallback":
            return None
        if not isinstance(value, dict):
            raise InvalidRequestError(f"'{name}' must be an object with base_url and model", param=param)
        base = current if isinstance(current, LLMEndpoint) else None
        fields = {"base_url": base.base_url if base else None, "model": base.model if base else None}
        fields["api_key"] = base.api_key if base else "not-needed"
        for key, item in value.items():
            if key not in fields or not isinstance(item, str) or not item or len(item) > 2048:
                raise InvalidRequestError(
                    f"'{name}.{key}' must be a non-empty string", param=f"{param}.{key}"
                )
            fields[key] = item
        if not fields["base_url"] or not fields["model"]:
            raise InvalidRequestError(f"'{name}' needs base_url and model", param=param)
        return LLMEndpoint(str(fields["base_url"]), str(fields["model"]), str(fields["api_key"]))
    if name == "tools":
        from theo_rtc.agent.tools import client_tools

        return client_tools(value)
    if name == "end_call_tool":
        if not isinstance(value, bool):
            raise InvalidRequestError(f"'{name}' must be true or false", param=param)
        return value
    if name == "interruptions":
        if value not in INTERRUPTIONS:
            raise InvalidRequestError(f"'{name}' must be one of {', '.join(INTERRUPTIONS)}", param=param)
        return value
    if name in ("echo_cancellation", "fillers"):
        if not isinstance(value, bool):
            raise InvalidRequestError(f"'{name}' must be true or false", param=param)
        return value
    if isinstance(current, int | float) and not isinstance(current, bool):
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise InvalidRequestError(f"'{name}' must be a non-negative number", param=param)
        return type(current)(value)
    if value is not None and (not isinstance(value, str) or len(value) > 16_000):
        raise InvalidRequestError(f"'{name}' must be a string of at most 16000 characters", param=param)
    return value
