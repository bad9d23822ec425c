"""Streaming chat completions from any OpenAI-compatible endpoint, with a first-token deadline, a circuit
breaker around the primary endpoint and a fallback (seed GAP 12: resilience, never dead air)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

import openai

from theo_rtc.agent.options import AgentOptions, LLMEndpoint
from theo_rtc.observability import metrics

log = logging.getLogger("theo.agent.llm")

__all__ = ["ChatLLM", "CircuitBreaker", "LLMUnavailableError", "ToolCall"]


@dataclass(slots=True)
class ToolCall:
    """A function call the model made: ``arguments`` is the model's JSON text, unparsed."""

    id: str
    name: str
    arguments: str

    def message(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


class LLMUnavailableError(Exception):
    """Neither the primary nor the fallback endpoint produced a first token."""


class CircuitBreaker:
    """Open after ``failures`` consecutive failures; half-open (one try) ``reset_s`` later."""

    def __init__(self, failures: int, reset_s: float) -> None:
        self.failures = failures
        self.reset_s = reset_s
        self._count = 0
        self._opened_at: float | None = None

    @property
    def open(self) -> bool:
        if self._opened_at is None:
            return False
        # past reset_s the breaker is half-open: the next call is a trial
        return time.monotonic() - self._opened_at < self.reset_s

    def record(self, ok: bool) -> None:
        if ok:
            self._count, self._opened_at = 0, None
            return
        self._count += 1
        if self._count >= self.failures:
            self._opened_at = time.monotonic()


class ChatLLM:
    """One conversation's LLM: :meth:`stream` yields text deltas of one response."""

    def __init__(self, options: AgentOptions) -> None:
        self.options = options
        self.breaker = CircuitBreaker(options.breaker_failures, options.breaker_reset_s)
        self._clients: dict[LLMEndpoint, openai.AsyncOpenAI] = {}
        self.last_endpoint: LLMEndpoint | None = None

    def _client(self, endpoint: LLMEndpoint) -> openai.AsyncOpenAI:
        if endpoint not in self._clients:
            # No SDK retries: a failed endpoint goes to the fallback now, not after backoff.
            self._clients[endpoint] = openai.AsyncOpenAI(
                base_url=endpoint.base_url,
                api_key=endpoint.api_key,
                max_retries=0,
                timeout=self.options.stream_timeout_s,
            )
        return self._clients[endpoint]

    async def stream(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
    ) -> AsyncIterator[str | ToolCall]:
        """Text deltas, then the tool calls the model made (each complete), from the first endpoint that
        starts answering in time; raises :class:`LLMUnavailableError` when none does. A failure after the
        first token ends the response where it stopped (what was said stays said)."""
        endpoints: list[LLMEndpoint] = []
        if not self.breaker.open:
            endpoints.append(self.options.llm)
        else:
            log.warning("circuit open around %r; skipping it", self.options.llm)
        if self.options.fallback is not None:
            endpoints.append(self.options.fallback)
        reasons = []
        for endpoint in endpoints:
            primary = endpoint == self.options.llm
            label = "primary" if primary else "fallback"
            asked = time.monotonic()
            async with contextlib.aclosing(self._deltas(endpoint, messages, tools, tool_choice)) as deltas:
                try:
                    async with asyncio.timeout(self.options.first_token_timeout_s):
                        first = await anext(deltas)
                except (TimeoutError, StopAsyncIteration, openai.OpenAIError) as exc:
                    reason = _describe(exc, self.options.first_token_timeout_s)
                    log.warning("LLM %r failed before its first token: %s", endpoint, reason)
                    reasons.append(f"{endpoint.model} at {endpoint.base_url}: {reason}")
                    metrics.agent_llm_failures_total.labels(label).inc()
                    if primary:
                        self.breaker.record(False)
                    continue
                metrics.agent_llm_ttft_seconds.labels(label).observe(time.monotonic() - asked)
                if primary:
                    self.breaker.record(True)
                self.last_endpoint = endpoint
                yield first
                try:
                    async for delta in deltas:
                        yield delta
                except openai.OpenAIError as exc:
                    log.warning("LLM %r failed mid-response: %s", endpoint, exc)
                return
        raise LLMUnavailableError("; ".join(reasons) or "no LLM endpoint configured")

    async def _deltas(
        self,
        endpoint: LLMEndpoint,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        tool_choice: str | dict[str, Any] | None = None,
    ) -> AsyncGenerator[str | ToolCall, None]:
        extra: dict[str, Any] = {"tools": tools} if tools else {}
        if tools and tool_choice is not None:  # chat completions' own shape ("required", a function)
            extra["tool_choice"] = tool_choice
        response = await self._client(endpoint).chat.completions.create(
            model=endpoint.model,
            messages=messages,  # type: ignore[arg-type]
            stream=True,
            temperature=self.options.temperature,
            max_tokens=self.options.max_tokens,
            **extra,
        )
        assert isinstance(response, openai.AsyncStream)
        calls: dict[int, ToolCall] = {}  # streamed in fragments: id and name first, arguments in pieces
        async with response:
            async for chunk in response:
                if not chunk.choices:
                    continue
                delta = chunk.choices[0].delta
                if delta.content:
                    yield delta.content
                for fragment in delta.tool_calls or ():
                    call = calls.setdefault(fragment.index, ToolCall("", "", ""))
                    call.id = fragment.id or call.id
                    if fragment.function is not None:
                        call.name += fragment.function.name or ""
                        call.arguments += fragment.function.arguments or ""
        for index in sorted(calls):
            call = calls[index]
            call.id = call.id or f"call_{index}"
            yield call

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()


def _describe(exc: BaseException, timeout_s: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no first token within {timeout_s:g} s"
    if isinstance(exc, StopAsyncIteration):
        return "an empty response"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    return f"{type(exc).__name__}: {exc}"
