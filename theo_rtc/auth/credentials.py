"""The credential a request presents, in the forms OpenAI clients send it.

- ``Authorization: Bearer <key or ek_ secret>`` on any HTTP request or WebSocket handshake;
- on a WebSocket, the subprotocol ``openai-insecure-api-key.<key or ek_ secret>`` (browsers cannot set
  headers on a WebSocket, so OpenAI's browser clients put the credential there, next to ``realtime``);
- ``Authorization: Basic`` with the web demo's password (any user name): the demo page only.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from starlette.types import Scope

__all__ = [
    "INSECURE_KEY_SUBPROTOCOL",
    "REALTIME_SUBPROTOCOL",
    "Presented",
    "presented_credential",
    "subprotocols",
]

INSECURE_KEY_SUBPROTOCOL = "openai-insecure-api-key."
REALTIME_SUBPROTOCOL = "realtime"


@dataclass(frozen=True, slots=True)
class Presented:
    scheme: str  # "bearer" | "basic"
    value: str  # the key, the ek_ secret, or the Basic password


def subprotocols(scope: Scope) -> list[str]:
    if scope["type"] != "websocket":
        return []
    return [str(p) for p in scope.get("subprotocols", [])]


def presented_credential(scope: Scope) -> Presented | None:
    header = _header(scope, b"authorization")
    if header:
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value:
            return Presented("bearer", value)
        if scheme.lower() == "basic" and value:
            password = _basic_password(value)
            return Presented("basic", password) if password is not None else None
        return None
    for protocol in subprotocols(scope):
        if protocol.startswith(INSECURE_KEY_SUBPROTOCOL) and len(protocol) > len(INSECURE_KEY_SUBPROTOCOL):
            return Presented("bearer", protocol[len(INSECURE_KEY_SUBPROTOCOL) :])
    return None


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1")).strip()
    return ""


def _basic_password(encoded: str) -> str | None:
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, sep, password = decoded.partition(":")
    return password if sep else None
