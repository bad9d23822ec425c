"""``WS /v1/realtime``: one endpoint, two dialects over the same :class:`Call`.

``?intent=transcription`` or an OpenAI model name in ``?model=`` selects the OpenAI Realtime transcription
dialect; anything else speaks Theo's protocol (binary PCM16 + JSON events, and ``tts.speak`` audio back as
binary frames). What can never work is refused before the upgrade (:mod:`.admission`).
"""

from __future__ import annotations

import contextlib
import logging

from fastapi import APIRouter, WebSocket
from pydantic import ValidationError
from starlette.websockets import WebSocketState

from theo_rtc.errors import ServerShuttingDownError, TheoError
from theo_rtc.runtime import TheoRuntime
from theo_rtc.transports.call import Call
from theo_rtc.transports.registry import SERVER_SHUTDOWN, SessionRegistry, TooManySessionsError
from theo_rtc.transports.websocket.admission import admit, refuse
from theo_rtc.transports.websocket.output import WebSocketOutput

log = logging.getLogger("theo.realtime")
router = APIRouter()

_TRY_AGAIN_LATER = 1013
_POLICY_VIOLATION = 1008
_GOING_AWAY = 1001  # the server drains (SIGTERM): the client reconnects elsewhere


@router.websocket("/v1/realtime")
async def realtime(websocket: WebSocket) -> None:
    runtime: TheoRuntime = websocket.app.state.runtime
    registry: SessionRegistry = websocket.app.state.sessions
    settings = runtime.settings
    query = dict(websocket.query_params)
    try:
        if registry.draining:
            raise ServerShuttingDownError("the server is shutting down; connect to another instance")
        websocket.app.state.source_limits.admit("websockets", websocket)
        admission = admit(query, runtime, websocket.headers)
    except TheoError as exc:
        await refuse(websocket, exc)  # before accept(): an HTTP 4xx the client does not retry
        return
    dialect = admission.dialect
    await websocket.accept()
    output = WebSocketOutput(websocket, dialect.translate, max_queued=settings.ws_send_queue)
    call: Call | None = None
    try:
        if registry.full():  # before anything is allocated: a storm of refused clients costs nothing
            raise TooManySessionsError(
                f"the server is at its limit of {registry.limit} sessions; retry later"
            )
        config = dialect.initial_config(query, admission.model)
        sink = dialect.audio_sink(output)
        call = Call(
            runtime,
            registry,
            dialect,
            output,
            config,
            sink=sink,
            max_message_chars=4 * settings.max_frame_bytes,
        )
        call.reserve()
        await call.open()  # validates the model before any task starts
    except (TheoError, ValidationError, ValueError) as exc:
        if call is not None:
            await call.abort()
        message = exc.message if isinstance(exc, TheoError) else str(exc).splitlines()[0]
        close_code = _TRY_AGAIN_LATER if isinstance(exc, TooManySessionsError) else _POLICY_VIOLATION
        code = getattr(exc, "code", None) or "invalid_request"
        output.send_raw(dialect.error(code, message, param=getattr(exc, "param", None)))
        await output.aclose()
        with contextlib.suppress(Exception):
            await websocket.close(close_code, reason=message[:120])
        return

    log.info("%s: %s session opened (model %s)", call.id, dialect.name, call.session.config.model)
    try:
        await call.run(_receive(websocket, call, settings.max_frame_bytes))
    finally:
        await call.close()
        await output.aclose()
        if websocket.client_state == WebSocketState.CONNECTED:
            going_away = call.end_reason == SERVER_SHUTDOWN
            with contextlib.suppress(Exception):
                await websocket.close(_GOING_AWAY if going_away else 1000)
        log.info("%s: closed (%s)", call.id, call.end_reason)


async def _receive(websocket: WebSocket, call: Call, max_frame: int) -> None:
    """Client frames in order: audio straight to the session, JSON events through the call's dispatch."""
    while not call.ended:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("bytes") is not None:
            call.push_pcm16(message["bytes"], max_frame=max_frame)
        elif message.get("text") is not None:
            await call.dispatch(message["text"])
