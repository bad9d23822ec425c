"""A scripted OpenAI-compatible chat-completions server for deterministic agent turns: real HTTP and SSE on
127.0.0.1 (uvicorn in a thread), so the agent's real ``openai`` client talks to it unchanged.

Each request takes the next step of the script: ``Reply(text)`` streams the text a word at a time,
``Fail(status)`` answers an HTTP error, ``Stall()`` accepts the request and never sends a token (until the
server stops), so a first-token deadline always fires: no race with the wall clock. ``Reply(text,
hold=event)`` sends nothing until the test sets the ``threading.Event`` (a slow first token, on cue). Every
request body is kept in :attr:`ScriptedLLM.requests`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bench.harness import free_port


@dataclass(frozen=True)
class Reply:
    text: str
    hold: threading.Event | None = None  # the first token waits until the test sets it


@dataclass(frozen=True)
class Calls:
    """Say ``text`` (may be empty), then call tools: ``(name, arguments JSON)`` each, streamed in
    fragments as OpenAI does (id and name first, the arguments in pieces)."""

    calls: tuple[tuple[str, str], ...]
    text: str = ""


@dataclass(frozen=True)
class Fail:
    status: int = 500


@dataclass(frozen=True)
class Stall:
    pass


Step = Reply | Calls | Fail | Stall


class ScriptedLLM:
    def __init__(self, script: list[Step], *, default: Step | None = None) -> None:
        self.script = list(script)
        self.default = default
        self.requests: list[dict[str, Any]] = []
        self.tool_requests: list[tuple[str, Any]] = []  # (tool name, JSON body) POSTed to /tools/{name}
        self.tool_answers: dict[str, Any] = {}
        self.port = free_port()
        self._stop = threading.Event()
        app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/tools/{name}", self._tool, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="scripted-llm", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> ScriptedLLM:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the scripted LLM server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.should_exit = True
        self._thread.join(10)

    def user_messages(self, index: int = -1) -> list[str]:
        return [m["content"] for m in self.requests[index]["messages"] if m["role"] == "user"]

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        step = self.script.pop(0) if self.script else self.default
        if step is None:
            return JSONResponse({"error": {"message": "script exhausted"}}, status_code=500)
        if isinstance(step, Fail):
            return JSONResponse(
                {"error": {"message": "scripted failure", "type": "server_error"}}, step.status
            )
        return StreamingResponse(self._events(body["model"], step), media_type="text/event-stream")

    async def _tool(self, request: Request) -> Response:
        """A webhook tool: records the call, answers ``tool_answers[name]`` (404 when there is none)."""
        name = request.path_params["name"]
        self.tool_requests.append((name, await request.json()))
        if name not in self.tool_answers:
            return JSONResponse({"detail": "no such tool"}, status_code=404)
        return JSONResponse(self.tool_answers[name])

    async def _events(self, model: str, step: Reply | Calls | Stall) -> AsyncIterator[bytes]:
        if isinstance(step, Stall):
            await asyncio.to_thread(self._stop.wait)  # until the server stops
            return
        if isinstance(step, Reply) and step.hold is not None:
            await asyncio.to_thread(step.hold.wait, 120)
        words = step.text.split(" ") if step.text else []
        for i, word in enumerate(words):
            delta = {"content": word if i == 0 else " " + word}
            yield _sse(model, delta, None)
        if isinstance(step, Calls):
            for index, (name, arguments) in enumerate(step.calls):
                head = {"index": index, "id": f"call_{index}_{name}", "type": "function"}
                yield _sse(
                    model, {"tool_calls": [head | {"function": {"name": name, "arguments": ""}}]}, None
                )
                for k in range(0, len(arguments), 5):
                    part = {"index": index, "function": {"arguments": arguments[k : k + 5]}}
                    yield _sse(model, {"tool_calls": [part]}, None)
            yield _sse(model, {}, "tool_calls")
        else:
            yield _sse(model, {}, "stop")
        yield b"data: [DONE]\n\n"


def _sse(model: str, delta: dict[str, Any], finish: str | None) -> bytes:
    chunk = {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(chunk)}\n\n".encode()
