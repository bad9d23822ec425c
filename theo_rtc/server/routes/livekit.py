"""``POST /v1/livekit/sessions``: what a browser needs to talk to Theo through a LiveKit room.

Creates the room (or reuses it), sends agent ``theo`` into it with an explicit dispatch whose metadata
carries the session options (``theo agent`` reads them: ``session_config_from_metadata``), and mints a
join token for the caller. The LiveKit server is the one in ``LIVEKIT_URL`` / ``LIVEKIT_API_KEY`` /
``LIVEKIT_API_SECRET`` (unset: the dev server of ``theo livekit dev``). A server that is down, refuses
the keys or times out is a 503 ``livekit_unavailable``; bad fields are a 400.

Also ``GET /vendor/livekit-client.umd.js``: LiveKit's browser SDK for the web demo's LiveKit mode, served
from the copy ``scripts/install-livekit-client`` put in ``.tools/web-vendor/`` (no CDN).
"""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from theo_rtc.errors import InvalidRequestError, ModelNotFoundError, TheoError
from theo_rtc.runtime import TheoRuntime
from theo_rtc.session import SessionConfig
from theo_rtc.transports.livekit.settings import LiveKitError, LiveKitSettings

log = logging.getLogger("theo.server")
router = APIRouter(tags=["livekit"])

VENDOR_DIR = Path(__file__).resolve().parents[3] / ".tools" / "web-vendor"
VENDOR_FILES = ("livekit-client.umd.js", "livekit-client.umd.js.map")
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$"


class LiveKitUnavailableError(TheoError):
    status_code = 503
    error_type = "server_error"
    code = "livekit_unavailable"


class VendorFileMissingError(TheoError):
    status_code = 404
    error_type = "invalid_request_error"
    code = "livekit_client_missing"


class LiveKitSessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    room: str | None = Field(
        default=None,
        pattern=NAME_PATTERN,
        description="Room to join; created if it does not exist. Default: a new room `theo-<random>`.",
    )
    identity: str | None = Field(
        default=None,
        pattern=NAME_PATTERN,
        description="Your participant identity in the room. Default: `web-<random>`.",
    )
    name: str | None = Field(default=None, max_length=128, description="Display name (optional).")
    language: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$",
        description="Language you speak (`en`, `pt`, `pt-BR`); omitted: detected.",
    )
    model: str | None = Field(
        default=None, min_length=1, max_length=128, description="STT model (default: the server's)."
    )
    voice: str | None = Field(
        default=None, min_length=1, max_length=128, description="Theo's voice (`af_heart`, `nova`, ...)."
    )
    tts_model: str | None = Field(
        default=None, min_length=1, max_length=128, description="TTS model for Theo's voice."
    )


class LiveKitSession(BaseModel):
    url: str = Field(description="The LiveKit server's WebSocket URL (`LIVEKIT_URL`).")
    token: str = Field(description="Join token (JWT) for `identity` in `room`.")
    room: str
    identity: str
    agent_name: str
    dispatch_id: str
    dispatch_created: bool = Field(description="False when a live dispatch of Theo was reused.")
    metadata: str = Field(description="The session options sent to Theo (dispatch metadata, JSON).")


def livekit_settings(request: Request) -> LiveKitSettings:
    settings = getattr(request.app.state, "livekit_settings", None)
    return settings if isinstance(settings, LiveKitSettings) else LiveKitSettings.from_env()


@router.post(
    "/v1/livekit/sessions",
    summary="Join Theo in a LiveKit room: creates the room and Theo's dispatch, returns a join token",
)
async def create_livekit_session(
    request: Request, body: LiveKitSessionRequest | None = None
) -> LiveKitSession:
    body = body or LiveKitSessionRequest()  # no body: a new room with the default session options
    try:  # the `livekit` extra (default install); imported here so `theo serve` starts without it
        from theo_rtc.transports.livekit import api as lk
        from theo_rtc.transports.livekit.room import session_config_from_metadata
    except ImportError as exc:
        raise LiveKitUnavailableError(
            f"LiveKit support is not installed ({exc.name}): pip install 'theo-rtc[livekit]'"
        ) from None
    runtime: TheoRuntime = request.app.state.runtime
    options = {
        key: value
        for key, value in {
            "language": body.language,
            "model": body.model,
            "tts_model": body.tts_model,
            "tts_voice": body.voice,
        }.items()
        if value is not None
    }
    metadata = json.dumps(options, separators=(",", ":")) if options else ""
    try:
        session_config_from_metadata(metadata, SessionConfig())
    except ValueError as exc:
        raise InvalidRequestError(str(exc)) from exc
    if body.model is not None and not runtime.store.is_installed(body.model):
        raise ModelNotFoundError(f"model {body.model!r} is not installed", param="model")
    settings = livekit_settings(request)
    room = body.room or f"theo-{secrets.token_hex(4)}"
    identity = body.identity or f"web-{secrets.token_hex(3)}"
    try:
        if not await lk.room_exists(settings, room):
            # created explicitly: livekit-server makes one for a dispatch only while room.auto_create is on
            await lk.create_room(settings, room)
            dispatch = None
        else:
            dispatch = await lk.live_dispatch(settings, room)
        created = dispatch is None
        if dispatch is None:
            dispatch = await lk.create_dispatch(settings, room, lk.DEFAULT_AGENT_NAME, metadata)
        token = lk.make_token(settings, room, identity, name=body.name)
    except LiveKitError as exc:
        raise LiveKitUnavailableError(f"LiveKit is unavailable: {exc.message}") from None
    log.info(
        "livekit session: %s joins room %s (dispatch %s, %s)",
        identity,
        room,
        dispatch.id,
        "new" if created else "reused",
    )
    return LiveKitSession(
        url=settings.url,
        token=token,
        room=room,
        identity=identity,
        agent_name=dispatch.agent_name,
        dispatch_id=dispatch.id,
        dispatch_created=created,
        metadata=dispatch.metadata,
    )


@router.get("/vendor/{name}", include_in_schema=False)
async def livekit_client_bundle(name: str) -> FileResponse:
    """LiveKit's browser SDK (and its source map) from ``.tools/web-vendor/``."""
    if name not in VENDOR_FILES:
        raise VendorFileMissingError(f"no vendored file {name!r}")
    path = VENDOR_DIR / name
    if not path.is_file():
        raise VendorFileMissingError(
            "livekit-client is not installed: run scripts/setup (it needs npm) to use the LiveKit mode"
        )
    media_type = "application/json" if name.endswith(".map") else "text/javascript"
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "no-cache"})
