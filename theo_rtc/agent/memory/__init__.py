"""The agent's memory of a call beyond its sliding window: facts kept exactly (:mod:`.entities`), a
summary of the turns the window let go (:mod:`.summary`), and the token estimate that keeps the prompt
inside its budget (:mod:`.tokens`)."""

from theo_rtc.agent.memory.entities import Entities, cpf_is_valid
from theo_rtc.agent.memory.summary import ExtractiveSummary
from theo_rtc.agent.memory.tokens import estimate_tokens, message_tokens

__all__ = ["Entities", "ExtractiveSummary", "cpf_is_valid", "estimate_tokens", "message_tokens"]
