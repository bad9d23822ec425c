"""``WS /v1/realtime``: one endpoint, two dialects over the same streaming session core.

``?intent=transcription`` (or an ``openai-beta``/OpenAI-style first message) selects the OpenAI Realtime
transcription dialect; anything else speaks Theo's protocol (binary PCM16 + JSON events).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import MutableMapping
from typing import Any

from fastapi import APIRouter, WebSocket
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from theo_rtc.errors import InvalidRequestError, TheoError
from theo_rtc.observability.memory import release_memory
from theo_rtc.runtime import TheoRuntime
from theo_rtc.server.realtime.dialect import Dialect, parse_event
from theo_rtc.server.realtime.openai_protocol import OpenAIDialect
from theo_rtc.server.realtime.output import WebSocketOutput
from theo_rtc.server.realtime.theo_protocol import TheoDialect
from theo_rtc.session import StreamingSession
from theo_rtc.session.duplex import DuplexSpeaker

log = logging.getLogger("theo.realtime")
router = APIRouter()

_TRY_AGAIN_LATER = 1013


class SessionRegistry:
    """Counts live sessions so the server refuses new ones past ``max_sessions`` instead of exhausting RAM."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sessions: dict[str, StreamingSession] = {}

    def full(self) -> bool:
        return len(self.sessions) >= self.limit

    def session_closed(self) -> None:
        # Sessions are cyclic garbage holding MBs of audio; hand the memory back when the server goes idle.
        release_memory(force=not self.sessions)


@router.websocket("/v1/realtime")
async def realtime(websocket: WebSocket) -> None:
    runtime: TheoRuntime = websocket.app.state.runtime
    registry: SessionRegistry = websocket.app.state.sessions
    query = dict(websocket.query_params)
    await websocket.accept()
    dialect: Dialect
    if query.get("intent") == "transcription":
        installed = {m.name for m in runtime.store.list() if m.manifest.type == "stt"}
        dialect = OpenAIDialect(runtime.settings.default_stt_model, installed)
    else:
        dialect = TheoDialect()
    output = WebSocketOutput(websocket, dialect.translate, max_queued=runtime.settings.ws_send_queue)

    async def refuse(code: str, message: str, close_code: int, param: str | None = None) -> None:
        output.send_raw(dialect.error(code, message, param=param))
        await output.aclose()
        with contextlib.suppress(Exception):
            await websocket.close(close_code, reason=message[:120])

    if registry.full():
        await refuse(
            "too_many_sessions",
            f"the server is at its limit of {registry.limit} sessions; retry later",
            _TRY_AGAIN_LATER,
        )
        return
    try:
        config = dialect.initial_config(query, query.get("model") or runtime.settings.default_stt_model)
        session = StreamingSession(runtime, output, config)
        await session.start()  # validates the model before any task starts
    except (TheoError, ValidationError, ValueError) as exc:
        message = exc.message if isinstance(exc, TheoError) else str(exc).splitlines()[0]
        await refuse(getattr(exc, "code", None) or "invalid_request", message, 1008)
        return
    registry.sessions[session.id] = session

    if isinstance(dialect, TheoDialect):
        dialect.tts = DuplexSpeaker(runtime, output)
    log.info("%s: %s session opened (model %s)", session.id, dialect.name, session.config.model)
    try:
        await _receive_loop(websocket, dialect, session, output, runtime.settings.max_frame_bytes)
    finally:
        if not session.closed:
            await session.close("disconnected")
        tts = getattr(dialect, "tts", None)
        if tts is not None:
            await tts.aclose()
        registry.sessions.pop(session.id, None)
        await output.aclose()
        registry.session_closed()
        if websocket.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close(1000)
        log.info("%s: closed", session.id)


async def _receive_loop(
    websocket: WebSocket, dialect: Dialect, session: StreamingSession, output: WebSocketOutput, max_frame: int
) -> None:
    closed = asyncio.create_task(session.wait_closed())
    overflow = asyncio.create_task(output.overflowed.wait())
    try:
        while True:
            receive = asyncio.create_task(websocket.receive())
            done, _ = await asyncio.wait({receive, closed, overflow}, return_when=asyncio.FIRST_COMPLETED)
            if receive not in done:
                receive.cancel()
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                    await receive
                if overflow in done:
                    await session.cancel()
                return
            message = receive.result()
            if message["type"] == "websocket.disconnect":
                return
            if not await _dispatch(message, dialect, session, output, max_frame):
                return
    finally:
        closed.cancel()
        overflow.cancel()


async def _dispatch(
    message: MutableMapping[str, Any],
    dialect: Dialect,
    session: StreamingSession,
    output: WebSocketOutput,
    max_frame: int,
) -> bool:
    event_id: str | None = None
    try:
        if message.get("bytes") is not None:
            data: bytes = message["bytes"]
            if len(data) > max_frame:
                raise InvalidRequestError(
                    f"binary frame of {len(data)} bytes exceeds the {max_frame}-byte limit;"
                    " send 20-40 ms frames",
                    param="audio",
                    code="frame_too_large",
                )
            dialect.audio(data, session)
            return True
        text = message.get("text")
        if text is None:
            return True
        payload, event_id = parse_event(text, 4 * max_frame)
        return await dialect.handle(payload, session)
    except TheoError as exc:
        output.send_raw(
            dialect.error(exc.code or "invalid_request", exc.message, param=exc.param, event_id=event_id)
        )
        return True
