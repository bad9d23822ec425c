"""``POST /v1/realtime/calls``: WebRTC signaling in the shape of OpenAI's Realtime WebRTC flow.

The browser posts its SDP offer (``Content-Type: application/sdp``, or multipart/JSON with ``sdp`` and
``session`` fields) and gets the answer SDP back (201, ``Location: /v1/realtime/calls/{call_id}``).
Session events then travel on the ``oai-events`` data channel, in Theo's realtime protocol.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from theo_rtc.auth import claim_session_slot
from theo_rtc.errors import InvalidRequestError
from theo_rtc.registry.aliases import resolve_stt_alias
from theo_rtc.runtime import TheoRuntime
from theo_rtc.session import SessionConfig
from theo_rtc.transports.protocol import TheoDialect
from theo_rtc.transports.registry import SessionRegistry, TooManySessionsError
from theo_rtc.transports.webrtc.peer import InvalidOfferError, WebRTCPeer

log = logging.getLogger("theo.webrtc")
router = APIRouter(tags=["realtime"])

MAX_SDP_BYTES = 64 * 1024


class CallNotFoundError(InvalidRequestError):
    status_code = 404
    code = "call_not_found"


def _calls(request: Request) -> dict[str, WebRTCPeer]:
    state = request.app.state
    if not hasattr(state, "webrtc_calls"):
        state.webrtc_calls = {}
    calls: dict[str, WebRTCPeer] = state.webrtc_calls
    return calls


async def _read_offer(request: Request) -> tuple[str, dict[str, Any]]:
    """(offer SDP, session fields) from any of the three body shapes OpenAI clients use."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    session: Any = {}
    if content_type == "multipart/form-data":
        form = await request.form()
        sdp: Any = form.get("sdp")
        raw_session = form.get("session")
        if isinstance(raw_session, str) and raw_session.strip():
            session = _json_object(raw_session, "session")
    else:
        body = await request.body()
        if len(body) > MAX_SDP_BYTES:
            raise InvalidOfferError(f"the offer is {len(body)} bytes; at most {MAX_SDP_BYTES} are accepted")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidOfferError("the SDP offer is not UTF-8 text") from exc
        if content_type == "application/json":
            payload = _json_object(text, "body")
            sdp, session = payload.get("sdp"), payload.get("session") or {}
        else:
            sdp = text
    if not isinstance(sdp, str) or not sdp.strip():
        raise InvalidOfferError("missing SDP offer: post it as the body with Content-Type: application/sdp")
    if len(sdp) > MAX_SDP_BYTES:
        raise InvalidOfferError(f"the offer is {len(sdp)} bytes; at most {MAX_SDP_BYTES} are accepted")
    if not sdp.lstrip().startswith("v=0"):
        raise InvalidOfferError("this is not an SDP offer (it must start with 'v=0')")
    if not isinstance(session, dict):
        raise InvalidRequestError("session must be a JSON object", param="session")
    return sdp, session


def _json_object(text: str, param: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(f"{param} is not valid JSON: {exc.msg}", param=param) from exc
    if not isinstance(value, dict):
        raise InvalidRequestError(f"{param} must be a JSON object", param=param)
    return value


def _config(runtime: TheoRuntime, query: dict[str, str], session: dict[str, Any]) -> SessionConfig:
    default = runtime.settings.default_stt_model
    model = resolve_stt_alias(  # OpenAI's transcription names in ?model= as on the WebSocket
        query.get("model") or default, is_installed=runtime.store.is_installed, default=default
    )
    config = TheoDialect().initial_config(query | {"model": model}, model)
    # OpenAI clients send their own session shape (type, audio, ...): apply the fields Theo knows.
    known = {k: v for k, v in session.items() if k in SessionConfig.model_fields}
    try:
        return SessionConfig.model_validate(config.model_dump() | known)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first["loc"])
        raise InvalidRequestError(f"invalid session.{param}: {first['msg']}", param=param) from exc


@router.post(
    "/v1/realtime/calls",
    status_code=201,
    summary="Start a WebRTC call: SDP offer in, SDP answer out (OpenAI Realtime WebRTC flow)",
    response_class=Response,
)
async def create_call(request: Request) -> Response:
    runtime: TheoRuntime = request.app.state.runtime
    registry: SessionRegistry = request.app.state.sessions
    request.app.state.source_limits.admit("offers", request)
    sdp, session_fields = await _read_offer(request)
    query = dict(request.query_params)
    try:
        config = _config(runtime, query, session_fields)
    except ValueError as exc:  # e.g. ?sample_rate=abc
        raise InvalidRequestError(str(exc).splitlines()[0]) from exc
    if registry.full():
        raise TooManySessionsError(f"the server is at its limit of {registry.limit} sessions; retry later")
    calls = _calls(request)
    release_slot = claim_session_slot(request)  # the caller's key: 429 when its sessions are all open

    def closed(c: WebRTCPeer) -> None:
        calls.pop(c.id, None)
        release_slot()

    call = WebRTCPeer(runtime, registry, config, on_closed=closed)
    try:
        call.reserve()
        answer = await call.answer(sdp)
        await call.open()
    except BaseException:
        release_slot()
        await call.abort()
        raise
    calls[call.id] = call
    call.start()
    log.info("%s: answered (session %s)", call.id, call.session.id)
    return Response(
        content=answer,
        status_code=201,
        media_type="application/sdp",
        headers={"Location": f"/v1/realtime/calls/{call.id}"},
    )


@router.post("/v1/realtime/calls/{call_id}/hangup", summary="End a WebRTC call")
async def hangup(request: Request, call_id: str) -> dict[str, Any]:
    call = _calls(request).get(call_id)
    if call is None:
        raise CallNotFoundError(f"no call {call_id!r} (it may have ended already)", param="call_id")
    await call.hangup()
    return {"id": call_id, "object": "realtime.call", "status": "ended", "reason": call.end_reason}
