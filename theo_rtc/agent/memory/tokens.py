"""An approximate token count, for the context budget: ~4 characters a token for en and pt-BR text in
the BPE vocabularies of the models the agent talks to, plus each message's framing. Approximate on
purpose: the agent talks to any endpoint, whose tokenizer it does not have; the budget keeps a margin."""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["estimate_tokens", "message_tokens"]

CHARS_PER_TOKEN = 4.0
MESSAGE_OVERHEAD = 4  # role and separators of the chat template


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def message_tokens(message: dict[str, Any]) -> int:
    tokens = MESSAGE_OVERHEAD + estimate_tokens(str(message.get("content") or ""))
    if message.get("tool_calls"):
        tokens += estimate_tokens(json.dumps(message["tool_calls"]))
    return tokens
