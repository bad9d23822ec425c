"""What the window no longer holds, in a few lines (issue 10, item 5): each exchange pushed out of the
sliding window leaves one short line per message, oldest dropped first past the summary's share of the
context budget.

Extractive, not written by the LLM. The local llama.cpp runtime generates one answer at a time, so a
summary request would queue in front of the caller's next answer and hold its first token back by the whole
summary (seconds on a 0.5B model at ~40 tok/s); a small model also paraphrases and can invent, and the
facts a call needs word for word (name, CPF, protocol, phone) are kept exactly by :mod:`.entities`
anyway. Extractive lines cost nothing, never wait for anything, and say only what was said.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from theo_rtc.agent.memory.tokens import estimate_tokens

__all__ = ["ExtractiveSummary"]

LINE_WORDS = 24  # of one message's text kept in its line
HEADER = "Earlier in this call (oldest first):"


@dataclass
class ExtractiveSummary:
    lines: list[str] = field(default_factory=list)
    dropped: int = 0  # lines let go to stay within the budget

    def add(self, messages: list[dict[str, Any]]) -> None:
        """Messages leaving the window, in order."""
        for message in messages:
            if line := _line(message):
                self.lines.append(line)

    def fit(self, budget_tokens: int) -> None:
        """Drop the oldest lines until the rendered summary fits ``budget_tokens``."""
        while self.lines and estimate_tokens(self.render()) > budget_tokens:
            del self.lines[0]
            self.dropped += 1

    def render(self) -> str:
        if not self.lines:
            return ""
        head = HEADER if not self.dropped else f"{HEADER[:-2]}; {self.dropped} older lines left out):"
        return "\n".join([head, *(f"- {line}" for line in self.lines)])


def _line(message: dict[str, Any]) -> str:
    role, content = message["role"], _shorten(str(message.get("content") or ""))
    if role == "user":
        return f'the caller said: "{content}"' if content else ""
    if role == "assistant":
        calls = [c["function"]["name"] for c in message.get("tool_calls") or ()]
        said = f'you said: "{content}"' if content else ""
        if message.get("interrupted"):
            said += " (the caller interrupted you)"
        if calls:
            said = "; ".join(filter(None, [said, f"you called {', '.join(calls)}"]))
        return said
    if role == "tool":
        return f'a tool answered: "{content}"' if content else ""
    return ""


def _shorten(text: str) -> str:
    words = text.split()
    return " ".join(words[:LINE_WORDS]) + ("…" if len(words) > LINE_WORDS else "")
