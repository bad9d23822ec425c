"""Which dialect a ``WS /v1/realtime`` connection speaks, and what is refused before the upgrade.

The URL decides, as OpenAI's own endpoint does:

- ``?intent=transcription``, or an OpenAI model name in ``?model=`` (``gpt-4o-transcribe``,
  ``gpt-realtime-whisper``, snapshots, ...: ``theo_rtc.registry.aliases``): the OpenAI Realtime dialect;
- anything else: Theo's protocol, whose errors (an unknown model included) stay in band, in Theo's shape,
  as its clients expect.

- a conversation model (``gpt-realtime``, ``gpt-4o-realtime-preview-*``) without ``intent=transcription``:
  OpenAI's Realtime *conversation* dialect (speech to speech through the voice agent's LLM client); the
  ``OpenAI-Beta: realtime=v1`` header selects its beta event names.

On the OpenAI dialect, what can never work on this server is refused with an HTTP 4xx and OpenAI's JSON
error body before ``accept()``: a client sees a failed handshake it does not retry, instead of a socket
that opens and closes (which reconnecting clients retry forever). That is an unknown model, a model that
is not speech-to-text, an unknown intent and joining a call (``call_id``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket

from theo_rtc.errors import InvalidRequestError, ModelNotFoundError, TheoError
from theo_rtc.registry.aliases import OpenAIModelKind, openai_kind
from theo_rtc.runtime import TheoRuntime
from theo_rtc.transports.protocol import Dialect, OpenAIDialect, TheoDialect
from theo_rtc.transports.protocol.openai_conversation import OpenAIConversationDialect

log = logging.getLogger("theo.realtime")

__all__ = ["Admission", "admit", "refuse"]

TRANSCRIPTION_INTENT = "transcription"


@dataclass(frozen=True, slots=True)
class Admission:
    dialect: Dialect
    model: str  # the local STT model the session starts with


def admit(query: dict[str, str], runtime: TheoRuntime, headers: Mapping[str, str] | None = None) -> Admission:
    """The dialect and starting model for a connection; raises the :class:`TheoError` to refuse it with."""
    default = runtime.settings.default_stt_model
    model = query.get("model") or None
    intent = query.get("intent")
    kind = openai_kind(model)
    if "call_id" in query:
        raise InvalidRequestError(
            "joining a call (call_id) over the WebSocket is not supported; open a WebRTC call with "
            "POST /v1/realtime/calls, or a transcription session with ?intent=transcription",
            param="call_id",
        )
    if intent is None and kind is None:
        return Admission(TheoDialect(), model or default)
    if intent is not None and intent != TRANSCRIPTION_INTENT:
        raise InvalidRequestError(
            f"intent {intent!r} is not supported; use intent=transcription", param="intent"
        )
    installed = {m.name for m in runtime.store.list() if m.manifest.type == "stt"}
    if model is not None and model in installed:
        local = model  # a local model named like an OpenAI one wins
    elif kind is OpenAIModelKind.TRANSCRIPTION or (kind is not None and intent == TRANSCRIPTION_INTENT):
        local = default  # with intent=transcription the URL's model does not pick the session type
    elif kind is OpenAIModelKind.CONVERSATION:
        beta = "realtime=v1" in (headers or {}).get("openai-beta", "")
        conversation = OpenAIConversationDialect(
            default,
            installed,
            beta=beta,
            options=_agent_options(runtime),
            smart_turn=runtime.store.is_installed("smart-turn-v3.2"),
        )
        return Admission(conversation, default)
    elif kind is OpenAIModelKind.SPEECH:
        raise InvalidRequestError(
            f"{model!r} is a text-to-speech model; realtime sessions need a transcription model "
            "(speech synthesis is POST /v1/audio/speech)",
            param="model",
        )
    elif model is not None and runtime.store.is_installed(model):
        raise InvalidRequestError(f"model {model!r} is not a speech-to-text model", param="model")
    elif model is not None:
        raise ModelNotFoundError(f"model {model!r} is not installed on this server", param="model")
    else:
        local = default
    return Admission(OpenAIDialect(local, installed), local)


async def refuse(websocket: WebSocket, error: TheoError) -> None:
    """Answer the upgrade request with ``error``'s HTTP status and OpenAI's JSON error body; never accepts.

    Without the ASGI WebSocket denial-response extension (every uvicorn protocol has it), closing before
    ``accept()`` is the only refusal there is: HTTP 403 with no body.
    """
    rid = websocket.scope.get("state", {}).get("request_id", "")  # set by the server's RequestIdMiddleware
    log.info(
        "refused %s?%s (request %s): %d %s: %s",
        websocket.url.path,
        websocket.url.query,
        rid,
        error.status_code,
        error.code,
        error.message,
    )
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse(error.to_dict(), status_code=error.status_code))
    else:
        await websocket.close(1008, reason=error.message[:120])


def _agent_options(runtime: TheoRuntime) -> Callable[[], Awaitable[Any]]:
    """The voice agent's options from the server's ``THEO_AGENT_*`` settings, resolved on a conversation's
    first response (the managed local LLM starts then) and kept."""
    from theo_rtc.agent.defaults import options_for

    cached: list[Any] = []

    async def options() -> Any:
        if not cached:
            cached.append(await options_for(runtime, {}))
        return cached[0]

    return options
