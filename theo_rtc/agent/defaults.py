"""The agent's options for a call: the server's settings, then what the client asks for."""

from __future__ import annotations

from typing import Any

from theo_rtc.agent.options import AgentOptions, LLMEndpoint
from theo_rtc.errors import InvalidRequestError, TheoError
from theo_rtc.runtime import TheoRuntime

__all__ = ["LLMNotConfiguredError", "options_for"]


class LLMNotConfiguredError(TheoError):
    code = "llm_not_configured"
    status_code = 503


async def options_for(runtime: TheoRuntime, changes: dict[str, Any] | None = None) -> AgentOptions:
    """Options from ``THEO_AGENT_*`` settings with the client's ``changes`` applied (validated)."""
    settings = runtime.settings
    llm = _endpoint(settings.agent_llm_base_url, settings.agent_llm_model, settings.agent_llm_api_key)
    changes = dict(changes or {})
    if llm is None and "llm" not in changes:
        local = getattr(runtime, "llm_endpoint", None)  # Theo's managed local LLM runtime, when installed
        if local is None:
            raise LLMNotConfiguredError(
                "no LLM is configured: set THEO_AGENT_LLM_BASE_URL and THEO_AGENT_LLM_MODEL (any "
                "OpenAI-compatible server), or pass 'llm': {'base_url', 'model'} in agent.start",
                param="agent.llm",
            )
        llm = await local()
    base = AgentOptions(
        llm=llm or LLMEndpoint("http://unset", "unset"),
        fallback=_endpoint(
            settings.agent_llm_fallback_base_url,
            settings.agent_llm_fallback_model,
            settings.agent_llm_fallback_api_key,
        ),
        instructions=settings.agent_instructions,
        greeting=settings.agent_greeting,
    )
    wire = changes.get("llm")
    if llm is None and not (isinstance(wire, dict) and wire.get("base_url") and wire.get("model")):
        # no server default to fill in from: the client's endpoint must be complete
        raise InvalidRequestError("'llm' needs base_url and model", param="agent.llm")
    return base.updated(changes)


def _endpoint(base_url: str | None, model: str | None, api_key: str | None) -> LLMEndpoint | None:
    if not base_url or not model:
        return None
    return LLMEndpoint(base_url, model, api_key or "not-needed")
