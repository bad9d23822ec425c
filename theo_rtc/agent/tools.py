"""Tools the agent's LLM may call (OpenAI function calling), of three kinds:

- **webhooks** registered by the operator in a YAML/JSON file (``THEO_AGENT_TOOLS_FILE``): the arguments
  are POSTed as JSON to the tool's URL and the response body is the result. Clients can only pick among
  these by name, never add a URL (the server must not fetch arbitrary URLs for a caller).
- **client tools** declared by the client in its ``agent`` options (name, description, parameters): the
  call goes to the client as ``agent.tool_call`` and its ``agent.tool_result`` is the result.
- **call tools** with side effects on the call itself (``end_call``): they run only after everything said
  before them has played out, so the caller hears the goodbye.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from pydantic import BaseModel, Field, ValidationError

from theo_rtc.agent.llm import ToolCall
from theo_rtc.errors import InvalidRequestError

log = logging.getLogger("theo.agent.tools")

__all__ = ["ClientTool", "ToolBox", "Webhook", "load_webhooks"]

MAX_RESULT_CHARS = 8_000  # what goes back into the LLM's context from one call
_NAME = r"^[a-zA-Z0-9_-]{1,64}$"  # OpenAI's rule for function names


class ClientTool(BaseModel):
    name: str = Field(pattern=_NAME)
    description: str = Field(default="", max_length=2_000)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class Webhook(ClientTool):
    url: str = Field(pattern=r"^https?://")
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    headers: dict[str, str] = Field(default_factory=dict)


def load_webhooks(path: Path | None) -> dict[str, Webhook]:
    """The operator's webhook tools: a YAML or JSON list of {name, description, parameters, url, ...}."""
    if path is None:
        return {}
    raw = yaml.safe_load(path.read_text())
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a list of tools")
    hooks = [Webhook.model_validate(item) for item in raw]
    return {hook.name: hook for hook in hooks}


def client_tools(value: Any) -> tuple[dict[str, Any], ...]:
    """Validate a client's ``tools`` option: a list of {name, description, parameters}."""
    if not isinstance(value, list) or len(value) > 32:
        raise InvalidRequestError("'tools' must be a list of at most 32 tools", param="agent.tools")
    tools = []
    for i, item in enumerate(value):
        try:
            tools.append(ClientTool.model_validate(item).model_dump())
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InvalidRequestError(
                f"agent.tools[{i}].{where}: {first['msg']}", param=f"agent.tools.{i}.{where}"
            ) from None
    return tuple(tools)


END_CALL = {
    "name": "end_call",
    "description": "Hang up once the conversation is over and you have said goodbye.",
    "parameters": {"type": "object", "properties": {}},
}


@dataclass
class ToolBox:
    """The tools of one call and how to run each."""

    webhooks: dict[str, Webhook] = field(default_factory=dict)
    client: dict[str, dict[str, Any]] = field(default_factory=dict)
    ask_client: Callable[[ToolCall], Awaitable[str]] | None = None  # sends agent.tool_call, awaits result
    end_call: Callable[[], Awaitable[None]] | None = None
    client_timeout_s: float = 30.0

    def definitions(self) -> list[dict[str, Any]]:
        specs: list[dict[str, Any]] = [
            {"name": h.name, "description": h.description, "parameters": h.parameters}
            for h in self.webhooks.values()
        ]
        specs += list(self.client.values())
        if self.end_call is not None:
            specs.append(END_CALL)
        return [{"type": "function", "function": spec} for spec in specs]

    def after_playout(self, call: ToolCall) -> bool:
        return call.name == "end_call" and self.end_call is not None

    async def run(self, call: ToolCall) -> str:
        """The result text for the LLM; failures are results too (the model can say what went wrong)."""
        try:
            arguments = json.loads(call.arguments or "{}")
            if not isinstance(arguments, dict):
                raise ValueError("arguments must be a JSON object")
        except ValueError as exc:
            return _error(f"the arguments are not a JSON object: {exc}")
        try:
            if call.name in self.webhooks:
                return await self._webhook(self.webhooks[call.name], arguments)
            if call.name in self.client and self.ask_client is not None:
                async with asyncio.timeout(self.client_timeout_s):
                    return (await self.ask_client(call))[:MAX_RESULT_CHARS]
            if call.name == "end_call" and self.end_call is not None:
                await self.end_call()
                return json.dumps({"ok": True})
        except TimeoutError:
            return _error(f"{call.name} did not answer in time")
        except httpx.HTTPError as exc:
            log.warning("tool %s failed: %s", call.name, exc)
            return _error(f"{call.name} failed: {type(exc).__name__}")
        return _error(f"there is no tool named {call.name!r}")

    @staticmethod
    async def _webhook(hook: Webhook, arguments: dict[str, Any]) -> str:
        async with httpx.AsyncClient(timeout=hook.timeout_s) as client:
            response = await client.post(hook.url, json=arguments, headers=hook.headers)
        if response.status_code >= 400:
            return _error(f"{hook.name} answered HTTP {response.status_code}")
        return response.text[:MAX_RESULT_CHARS]


def _error(message: str) -> str:
    return json.dumps({"error": message})
