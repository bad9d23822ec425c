"""``response.create``'s ``response`` object: what one response may change over the session's settings."""

from __future__ import annotations

import dataclasses
from typing import Any

from theo_rtc.errors import InvalidRequestError
from theo_rtc.transports.protocol.openai_conversation.items import client_item
from theo_rtc.transports.protocol.openai_conversation.settings import (
    check_fields,
    parse_limit,
    parse_tool_choice,
    parse_tools,
)
from theo_rtc.transports.protocol.openai_transcription import _number

__all__ = ["ResponseParams", "response_params"]

_RESPONSE = {
    "instructions",
    "output_modalities",
    "modalities",
    "tools",
    "tool_choice",
    "temperature",
    "max_output_tokens",
    "max_response_output_tokens",
    "metadata",
    "conversation",
    "input",
    "audio",
    "voice",
    "output_audio_format",
    "prompt",
    "parallel_tool_calls",
    "reasoning",
}


@dataclasses.dataclass
class ResponseParams:
    """``response.create``'s ``response`` object, over the session's settings."""

    instructions: str | None = None
    output_modalities: tuple[str, ...] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    temperature: float | None = None
    max_output_tokens: int | str | None = None
    metadata: dict[str, Any] | None = None
    conversation: str = "auto"  # "none": out of band, its items are not added to the conversation
    input: list[dict[str, Any]] | None = None  # out-of-band context instead of the conversation


def response_params(value: object) -> ResponseParams:
    param = "response"
    if not isinstance(value, dict):
        raise InvalidRequestError("'response' must be an object", param=param)
    check_fields(value, _RESPONSE, param)
    params = ResponseParams()
    if value.get("instructions") is not None:
        if not isinstance(value["instructions"], str) or len(value["instructions"]) > 16_000:
            raise InvalidRequestError("response.instructions must be a string", param="response.instructions")
        params.instructions = value["instructions"] or None
    modalities = value.get("output_modalities", value.get("modalities"))
    if modalities is not None:
        if not isinstance(modalities, list) or not set(modalities) <= {"audio", "text"} or not modalities:
            raise InvalidRequestError(
                "output_modalities must be ['audio'] or ['text']",
                param="response.output_modalities",
                code="invalid_value",
            )
        params.output_modalities = ("audio",) if "audio" in modalities else ("text",)
    if "tools" in value:
        params.tools = parse_tools(value["tools"], "response.tools")
    if value.get("tool_choice") is not None:
        params.tool_choice = parse_tool_choice(value["tool_choice"], "response.tool_choice")
    if value.get("temperature") is not None:
        params.temperature = _number(value["temperature"], "response.temperature")
    limit = value.get("max_output_tokens", value.get("max_response_output_tokens"))
    if limit is not None:
        params.max_output_tokens = parse_limit(limit, "response.max_output_tokens")
    if value.get("metadata") is not None:
        if not isinstance(value["metadata"], dict) or len(value["metadata"]) > 16:
            raise InvalidRequestError(
                "response.metadata must be an object of at most 16 keys", param="response.metadata"
            )
        params.metadata = value["metadata"]
    conversation = value.get("conversation", "auto")
    if conversation not in ("auto", "none"):
        raise InvalidRequestError(
            "response.conversation must be 'auto' or 'none'",
            param="response.conversation",
            code="invalid_value",
        )
    params.conversation = str(conversation)
    if value.get("input") is not None:
        if not isinstance(value["input"], list) or len(value["input"]) > 100:
            raise InvalidRequestError("response.input must be a list of items", param="response.input")
        params.input = [client_item(item) for item in value["input"]]
        if any(p["type"] == "input_audio" for i in params.input for p in i.get("content", [])):
            raise InvalidRequestError("response.input takes text items only", param="response.input")
    return params
