"""The conversation an agent keeps (issue 10, item 5): the system prompt, then a sliding window of user and
assistant turns, inside a context budget.

What the assistant "said" is what the caller heard: an answer cut off by barge-in is kept only up to where
playback stopped (seed GAP 2) and flagged as interrupted, so the next answer neither builds on words the
caller never got nor repeats what they did. What leaves the window is not forgotten outright: the facts a
call needs exactly (name, CPF, phone and protocol numbers) stay in the system prompt (:mod:`.memory.entities`)
and the turns themselves leave a short line each in a summary (:mod:`.memory.summary`).

The prompt sent to the LLM is, in order: the instructions (never cut; first, so a server's prompt cache
keeps them), the facts, the summary (at most a quarter of the budget, oldest lines dropped first), then the
window: whole exchanges, oldest out first, until the estimate fits ``budget_tokens``. The last exchange is
always sent; a single caller turn too long for the budget keeps its end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from theo_rtc.agent.memory import Entities, ExtractiveSummary, estimate_tokens, message_tokens
from theo_rtc.agent.memory.tokens import CHARS_PER_TOKEN

if TYPE_CHECKING:
    from theo_rtc.agent.llm import ToolCall

__all__ = ["INTERRUPTED_MARK", "Conversation"]

# how an interrupted answer reads in the prompt (the default persona says what to do about it)
INTERRUPTED_MARK = " [interrupted by the caller]"
SUMMARY_SHARE = 0.25  # of the budget, at most, for the summary of older turns
MIN_TURN_TOKENS = 32  # a too-long last turn is cut to what fits, never below this


class Conversation:
    def __init__(self, instructions: str, max_messages: int, budget_tokens: int = 3000) -> None:
        self.instructions = instructions
        self.max_messages = max_messages
        self.budget_tokens = budget_tokens
        self.turns: list[dict[str, Any]] = []  # the window; "interrupted" is ours, not sent as a key
        self.entities = Entities()
        self.summary = ExtractiveSummary()

    def add_user(self, text: str) -> None:
        self.entities.observe(text, caller=True)
        if self.turns and self.turns[-1]["role"] == "user":
            # Two finals in a row (the caller paused mid-thought, or an answer was cut before a word of
            # it was heard): one user turn.
            self.turns[-1]["content"] += " " + text
        else:
            self.turns.append({"role": "user", "content": text})
        self._trim()

    def add_assistant(self, text: str, *, interrupted: bool = False) -> None:
        if not text:
            return
        self.entities.observe(text, caller=False)
        last = self.turns[-1] if self.turns else None
        if last is not None and last["role"] == "assistant" and not last.get("tool_calls"):
            last["content"] = f"{last['content']} {text}"  # an answer resumed after a false interruption
        else:
            last = {"role": "assistant", "content": text}
            self.turns.append(last)
        if interrupted:
            last["interrupted"] = True
        else:
            last.pop("interrupted", None)  # the resumed rest was heard to the end
        self._trim()

    def add_tool_round(self, said: str, calls: list[ToolCall], results: list[str]) -> None:
        """What the assistant said before calling tools, the calls, and each result."""
        self.entities.observe(said, caller=False)
        self.turns.append(
            {"role": "assistant", "content": said or None, "tool_calls": [c.message() for c in calls]}
        )
        for call, result in zip(calls, results, strict=True):
            self.entities.observe(result, caller=False)  # e.g. the protocol number a webhook opened
            self.turns.append({"role": "tool", "tool_call_id": call.id, "content": result})
        self._trim()

    def system_prompt(self) -> str:
        return "\n\n".join(p for p in (self.instructions, self.entities.render(), self.summary.render()) if p)

    def messages(self, reserve_tokens: int = 0) -> list[dict[str, Any]]:
        """The prompt: system, then the window, within the budget less ``reserve_tokens`` (the request's
        tool definitions)."""
        self._trim(reserve_tokens)
        window = [_wire(turn) for turn in self.turns]
        if window and self._tokens(window, reserve_tokens) > self.budget_tokens:
            _cut_to_fit(window[-1], self._tokens(window, reserve_tokens) - self.budget_tokens)
        return [{"role": "system", "content": self.system_prompt()}, *window]

    def tokens(self, reserve_tokens: int = 0) -> int:
        """The estimate of the prompt :meth:`messages` would send now."""
        return self._tokens([_wire(t) for t in self.turns], reserve_tokens)

    def _tokens(self, window: list[dict[str, Any]], reserve_tokens: int) -> int:
        system = message_tokens({"role": "system", "content": self.system_prompt()})
        return system + sum(message_tokens(m) for m in window) + reserve_tokens

    def _trim(self, reserve_tokens: int = 0) -> None:
        while self.turns and self.turns[0]["role"] != "user":
            self._evict(1)  # a history starts with the caller (a greeting before anyone spoke)
        while self._exchanges() > 1 and (
            len(self.turns) > self.max_messages or self.tokens(reserve_tokens) > self.budget_tokens
        ):
            self._evict(self._first_exchange_length())

    def _evict(self, count: int) -> None:
        gone, self.turns[:count] = self.turns[:count], []
        self.summary.add(gone)
        self.summary.fit(int(self.budget_tokens * SUMMARY_SHARE))

    def _exchanges(self) -> int:
        return sum(1 for t in self.turns if t["role"] == "user")

    def _first_exchange_length(self) -> int:
        """The first user turn and everything up to the next one."""
        starts = (i for i in range(1, len(self.turns)) if self.turns[i]["role"] == "user")
        return next(starts, len(self.turns))


def _wire(turn: dict[str, Any]) -> dict[str, Any]:
    message = {k: v for k, v in turn.items() if k != "interrupted"}
    if turn.get("interrupted"):
        message["content"] = f"{turn['content']}{INTERRUPTED_MARK}"
    return message


def _cut_to_fit(message: dict[str, Any], excess: int) -> None:
    """Keep the end of ``message``'s text, ``excess`` tokens shorter (at least MIN_TURN_TOKENS)."""
    text = str(message.get("content") or "")
    keep = int(max(estimate_tokens(text) - excess, MIN_TURN_TOKENS) * CHARS_PER_TOKEN) - 4  # and "…"
    if keep < len(text):
        message["content"] = "…" + text[-keep:]
