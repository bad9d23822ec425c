"""The conversation of a Realtime session: its items in order, as OpenAI shows them and as the LLM reads
them (chat messages).

Items are OpenAI's: user and assistant ``message`` items (content ``input_text`` / ``input_audio`` /
``output_text`` / ``output_audio``), ``function_call`` and ``function_call_output``. What an assistant
said aloud is kept as its transcript; ``conversation.item.truncate`` cuts it to what the listener heard.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from theo_rtc.errors import InvalidRequestError
from theo_rtc.transports.protocol.openai_conversation.settings import check_fields
from theo_rtc.transports.speaker import SpokenUtterance

__all__ = ["ConversationItems", "ItemNotFoundError", "new_item_id"]

MAX_ITEMS = 500  # the oldest go first: a long call keeps a bounded conversation
_CONTENT = {"type", "text", "audio", "transcript"}


class ItemNotFoundError(InvalidRequestError):
    code = "item_not_found"


def new_item_id() -> str:
    return f"item_{uuid.uuid4().hex[:20]}"


@dataclass
class ItemState:
    """What Theo knows about an item beyond its wire form."""

    transcribed: asyncio.Event = field(default_factory=asyncio.Event)  # set when its words are known
    audio_ms: int = 0  # assistant audio sent for it
    utterance: SpokenUtterance | None = None  # where each spoken piece sits in that audio


class ConversationItems:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.state: dict[str, ItemState] = {}

    def add(self, item: dict[str, Any], previous_item_id: str | None = None) -> str | None:
        """Insert ``item`` after ``previous_item_id`` (``"root"``: first; ``None``: last); returns the id of
        the item before it."""
        if item["id"] in self.state:
            raise InvalidRequestError(
                f"an item with id {item['id']!r} already exists", param="item.id", code="duplicate_item_id"
            )
        if previous_item_id is None:
            index = len(self.items)
        elif previous_item_id == "root":
            index = 0
        else:
            index = self._index(previous_item_id, "previous_item_id") + 1
        self.items.insert(index, item)
        state = self.state[item["id"]] = ItemState()
        if not _awaits_transcript(item):
            state.transcribed.set()
        while len(self.items) > MAX_ITEMS:
            self.state.pop(self.items.pop(0)["id"], None)
        return self.items[index - 1]["id"] if index > 0 else None

    def get(self, item_id: object) -> dict[str, Any]:
        return self.items[self._index(item_id, "item_id")]

    def delete(self, item_id: object) -> None:
        item = self.items.pop(self._index(item_id, "item_id"))
        self.state.pop(item["id"], None)

    def last_id(self) -> str | None:
        return self.items[-1]["id"] if self.items else None

    async def transcribed(self) -> None:
        """Until every user audio item's words are known (the LLM reads transcripts)."""
        for state in list(self.state.values()):
            await state.transcribed.wait()

    def _index(self, item_id: object, param: str) -> int:
        if isinstance(item_id, str):
            for i, item in enumerate(self.items):
                if item["id"] == item_id:
                    return i
        shown = str(item_id)[:64]
        raise ItemNotFoundError(f"Item with item_id not found: {shown}", param=param)

    # --- for the LLM --------------------------------------------------------------------------------------

    def messages(self, instructions: str) -> list[dict[str, Any]]:
        """Chat-completions messages: the instructions, then every item (function calls in a row become
        one assistant message with their ``tool_calls``)."""
        messages: list[dict[str, Any]] = [{"role": "system", "content": instructions}]
        for item in self.items:
            if item["type"] == "function_call":
                call = {
                    "id": item["call_id"],
                    "type": "function",
                    "function": {"name": item["name"], "arguments": item["arguments"]},
                }
                last = messages[-1]
                if last["role"] == "assistant" and last.get("tool_calls") is not None:
                    last["tool_calls"].append(call)
                else:
                    messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
            elif item["type"] == "function_call_output":
                messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": item["output"]})
            elif text := text_of(item):
                messages.append({"role": item["role"], "content": text})
        return messages


def text_of(item: dict[str, Any]) -> str:
    parts = [part.get("text") or part.get("transcript") or "" for part in item.get("content", ())]
    return " ".join(p.strip() for p in parts if p and p.strip())


def _awaits_transcript(item: dict[str, Any]) -> bool:
    return item.get("role") == "user" and any(
        part.get("type") == "input_audio" and part.get("transcript") is None
        for part in item.get("content", ())
    )


def client_item(value: object) -> dict[str, Any]:
    """A client's ``conversation.item.create`` item, checked, in the server's full form."""
    param = "item"
    if not isinstance(value, dict):
        raise InvalidRequestError("conversation.item.create needs an 'item' object", param=param)
    kind = value.get("type")
    item_id = value.get("id")
    if item_id is None:
        item_id = new_item_id()
    if not isinstance(item_id, str) or not item_id or len(item_id) > 64:
        raise InvalidRequestError("item.id must be a string of at most 64 characters", param="item.id")
    base = {"id": item_id, "object": "realtime.item", "status": "completed"}
    if kind == "function_call_output":
        check_fields(value, {"type", "id", "object", "status", "call_id", "output"}, param)
        for name in ("call_id", "output"):
            if not isinstance(value.get(name), str):
                raise InvalidRequestError(
                    f"function_call_output needs a string '{name}'", param=f"item.{name}"
                )
        return base | {"type": kind, "call_id": value["call_id"], "output": value["output"][:16_000]}
    if kind == "function_call":
        check_fields(value, {"type", "id", "object", "status", "call_id", "name", "arguments"}, param)
        for name in ("call_id", "name", "arguments"):
            if not isinstance(value.get(name), str):
                raise InvalidRequestError(f"function_call needs a string '{name}'", param=f"item.{name}")
        return base | {
            "type": kind,
            "call_id": value["call_id"],
            "name": value["name"],
            "arguments": value["arguments"],
        }
    if kind != "message":
        raise InvalidRequestError(
            f"item.type {str(kind)[:40]!r} is not supported: use message, function_call or "
            "function_call_output",
            param="item.type",
            code="invalid_value",
        )
    check_fields(value, {"type", "id", "object", "status", "role", "content"}, param)
    role = value.get("role")
    allowed = {
        "user": ("input_text", "input_audio"),
        "system": ("input_text",),
        "assistant": ("output_text", "output_audio", "text", "audio"),
    }
    if role not in allowed:
        raise InvalidRequestError(
            "item.role must be user, assistant or system", param="item.role", code="invalid_value"
        )
    content = value.get("content")
    if not isinstance(content, list) or not content or len(content) > 32:
        raise InvalidRequestError("item.content must be a list of 1 to 32 parts", param="item.content")
    parts = []
    for i, part in enumerate(content):
        where = f"item.content[{i}]"
        if not isinstance(part, dict) or part.get("type") not in allowed[str(role)]:
            kinds = ", ".join(allowed[str(role)])
            raise InvalidRequestError(
                f"{where}.type must be one of {kinds} for a {role} item",
                param=f"{where}.type",
                code="invalid_value",
            )
        check_fields(part, _CONTENT, where)
        for name in ("text", "transcript"):
            if part.get(name) is not None and not isinstance(part[name], str):
                raise InvalidRequestError(f"{where}.{name} must be a string", param=f"{where}.{name}")
        if part["type"] in ("input_text", "output_text", "text") and not isinstance(part.get("text"), str):
            raise InvalidRequestError(f"{where} needs 'text'", param=f"{where}.text")
        if part["type"] == "input_audio" and not isinstance(part.get("audio"), str):
            raise InvalidRequestError(f"{where} needs base64 'audio'", param=f"{where}.audio")
        parts.append(dict(part))
    return base | {"type": "message", "role": role, "content": parts}
