"""The conversation an agent keeps: the system prompt, then user and assistant turns, bounded.

What the assistant "said" is what the caller heard: an answer cut off by barge-in is kept only up to where
playback stopped (seed GAP 2), so the next answer does not build on words the caller never got.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from theo_rtc.agent.llm import ToolCall

__all__ = ["Conversation"]


class Conversation:
    def __init__(self, instructions: str, max_messages: int) -> None:
        self.instructions = instructions
        self.max_messages = max_messages
        self.turns: list[dict[str, Any]] = []

    def add_user(self, text: str) -> None:
        if self.turns and self.turns[-1]["role"] == "user":
            # Two finals in a row (the caller paused mid-thought, or an answer was cut before a word of
            # it was heard): one user turn.
            self.turns[-1]["content"] += " " + text
        else:
            self.turns.append({"role": "user", "content": text})
        self._trim()

    def add_assistant(self, text: str) -> None:
        if not text:
            return
        last = self.turns[-1] if self.turns else None
        if last is not None and last["role"] == "assistant" and not last.get("tool_calls"):
            last["content"] = f"{last['content']} {text}"  # an answer resumed after a false interruption
        else:
            self.turns.append({"role": "assistant", "content": text})
        self._trim()

    def add_tool_round(self, said: str, calls: list[ToolCall], results: list[str]) -> None:
        """What the assistant said before calling tools, the calls, and each result."""
        self.turns.append(
            {"role": "assistant", "content": said or None, "tool_calls": [c.message() for c in calls]}
        )
        for call, result in zip(calls, results, strict=True):
            self.turns.append({"role": "tool", "tool_call_id": call.id, "content": result})
        self._trim()

    def messages(self) -> list[dict[str, Any]]:
        return [{"role": "system", "content": self.instructions}, *self.turns]

    def _trim(self) -> None:
        excess = len(self.turns) - self.max_messages
        if excess > 0:
            del self.turns[:excess]
        while self.turns and self.turns[0]["role"] != "user":
            del self.turns[0]  # a history starts with the caller
