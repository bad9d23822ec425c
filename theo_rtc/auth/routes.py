"""``POST /v1/realtime/client_secrets`` (OpenAI's shape) and the web demo's ``POST /demo/session-token``.

The demo page is served by Theo itself. When auth is on it must never hold a real key, so it asks this
server for an ephemeral secret before each call. That route is guarded by the demo's own password
(``THEO_DEMO_PASSWORD``, HTTP Basic: the browser asks for it once when the page opens), which can only
mint single-use realtime secrets and read the model/voice lists; without it the demo is off when auth
is on (403 ``demo_disabled``), since a route that minted secrets for anyone would undo the keys.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from theo_rtc.auth.auth_middleware import principal_of
from theo_rtc.auth.errors import DemoDisabledError, InvalidApiKeyError
from theo_rtc.auth.keys import Principal
from theo_rtc.auth.state import DEMO_PRINCIPAL, SecurityState
from theo_rtc.errors import InvalidRequestError

router = APIRouter(tags=["realtime"])

_ANONYMOUS = Principal("anonymous", "api_key")  # auth off: secrets are minted, and nothing checks them
# OpenAI's two session kinds (RealtimeTranscriptionSessionCreateResponse, RealtimeSessionCreateResponse)
_SESSION_OBJECTS = {"transcription": "realtime.transcription_session", "realtime": "realtime.session"}


class ExpiresAfter(BaseModel):
    anchor: Literal["created_at"] = "created_at"
    seconds: int = Field(ge=10, le=7200)


class ClientSecretRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    expires_after: ExpiresAfter | None = None
    session: dict[str, Any] | None = None


def _security(request: Request) -> SecurityState:
    security: SecurityState = request.app.state.security
    return security


@router.post(
    "/v1/realtime/client_secrets", summary="Mint an ephemeral client secret for one realtime session"
)
async def create_client_secret(request: Request, body: ClientSecretRequest | None = None) -> dict[str, Any]:
    security = _security(request)
    principal = principal_of(request.scope)
    if security.auth_enabled and (principal is None or not principal.is_operator):
        raise InvalidApiKeyError("client secrets are minted with an API key")
    body = body or ClientSecretRequest()
    session = dict(body.session or {})
    session_type = session.get("type", "transcription")
    if not isinstance(session_type, str) or session_type not in _SESSION_OBJECTS:
        raise InvalidRequestError(
            f"session.type must be 'transcription' or 'realtime', not {session_type!r}", param="session.type"
        )
    ttl = body.expires_after.seconds if body.expires_after else security.client_secret_ttl_s
    minted = security.client_secrets.mint(principal or _ANONYMOUS, ttl)
    echoed = {k: v for k, v in session.items() if k not in ("type", "id", "object", "expires_at")}
    return {
        "value": minted.value,
        "expires_at": minted.expires_at,
        "session": {
            **echoed,  # echoed, not applied: the client configures its session with session.update
            "id": f"sess_{uuid.uuid4().hex[:24]}",
            "object": _SESSION_OBJECTS[session_type],
            "type": session_type,
            "expires_at": 0,  # the session, once started, has no time limit of its own
        },
    }


@router.post("/demo/session-token", summary="Web demo: an ephemeral client secret for the page's next call")
async def demo_session_token(request: Request) -> dict[str, Any]:
    security = _security(request)
    if not security.auth_enabled:
        return {"auth": False}
    principal = principal_of(request.scope)
    if principal is None and not security.demo_password:
        raise DemoDisabledError(
            "authentication is on and THEO_DEMO_PASSWORD is not set, so the web demo cannot open sessions; "
            "set THEO_DEMO_PASSWORD to enable it"
        )
    if principal not in (DEMO_PRINCIPAL,) and (principal is None or not principal.is_operator):
        raise InvalidApiKeyError("the web demo's password is required (HTTP Basic, any user name)")
    minted = security.client_secrets.mint(principal, security.client_secret_ttl_s)
    return {"auth": True, "value": minted.value, "expires_at": minted.expires_at}
