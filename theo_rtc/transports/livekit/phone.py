"""Theo on a phone call: what changes in a room when a track belongs to a LiveKit SIP caller.

LiveKit SIP puts each caller into the room as a participant of kind SIP whose ``sip.*`` attributes describe
the call (``sip.callID``, ``sip.phoneNumber`` = the caller, ``sip.trunkPhoneNumber`` = the number called,
``sip.trunkID``, ``sip.ruleID``, ``sip.callStatus``, mapped SIP headers ``sip.h.*``). Theo's session for
that track announces them as a ``phone.call`` event (again to anyone who joins the room later), speaks the
greeting of the dispatch metadata (``{"phone": {"greeting": "..."}}``, set by ``theo livekit sip-setup``)
when it answers, and turns the caller's RFC 4733 digits (``sip_dtmf_received``) into ``dtmf`` events.

Audio: livekit-sip decodes G.711 at 8 kHz and publishes it as Opus; the session takes the track at its own
16 kHz, so the 8 kHz speech is resampled once on its way in (48 kHz Opus -> 16 kHz in LiveKit's decoder).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from livekit import rtc

__all__ = ["PhoneCallInfo", "PhoneOptions", "is_phone", "phone_options_from_metadata"]

SIP_ATTRIBUTE_PREFIX = "sip."


def is_phone(participant: rtc.RemoteParticipant) -> bool:
    return participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_SIP


@dataclass(frozen=True, slots=True)
class PhoneOptions:
    greeting: str = ""
    """Said when Theo answers a call; empty: nothing."""


def phone_options_from_metadata(metadata: str) -> PhoneOptions:
    """``{"phone": {"greeting": "..."}}`` in the dispatch metadata; anything unreadable: no options (the
    session options' parser reports bad metadata)."""
    try:
        value = json.loads(metadata) if metadata.strip() else {}
    except json.JSONDecodeError:
        return PhoneOptions()
    phone = value.get("phone") if isinstance(value, dict) else None
    if not isinstance(phone, dict):
        return PhoneOptions()
    greeting = phone.get("greeting")
    if greeting is not None and not isinstance(greeting, str):
        raise ValueError("dispatch metadata: phone.greeting must be a string")
    return PhoneOptions(greeting=(greeting or "").strip())


@dataclass(frozen=True, slots=True)
class PhoneCallInfo:
    participant: str
    call_id: str
    from_number: str
    to_number: str
    trunk_id: str
    rule_id: str
    attributes: dict[str, str] = field(default_factory=dict)
    """Every ``sip.*`` attribute as LiveKit SIP set it."""

    @classmethod
    def of(cls, participant: rtc.RemoteParticipant) -> PhoneCallInfo:
        attributes = {
            k: v for k, v in (participant.attributes or {}).items() if k.startswith(SIP_ATTRIBUTE_PREFIX)
        }
        return cls(
            participant=participant.identity,
            call_id=attributes.get("sip.callID", ""),
            from_number=attributes.get("sip.phoneNumber", ""),
            to_number=attributes.get("sip.trunkPhoneNumber", ""),
            trunk_id=attributes.get("sip.trunkID", ""),
            rule_id=attributes.get("sip.ruleID", ""),
            attributes=attributes,
        )

    def event(self) -> dict[str, Any]:
        """The fields of the ``phone.call`` event."""
        return {
            "participant_identity": self.participant,
            "call_id": self.call_id,
            "from_number": self.from_number,
            "to_number": self.to_number,
            "trunk_id": self.trunk_id,
            "rule_id": self.rule_id,
            "sip": self.attributes,
        }
