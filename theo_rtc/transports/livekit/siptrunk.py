"""Inbound phone calls to Theo through LiveKit SIP: the trunk and dispatch rule ``theo livekit sip-setup``
creates (``livekit-api``'s SIP service).

    caller --INVITE--> livekit-sip --(inbound trunk: numbers, allowed addresses, digest auth)-->
        dispatch rule: a new room ``call-<caller>_<random>`` per call, room_config.agents = [theo]
        --> the caller joins it as a SIP participant, livekit-server dispatches ``theo agent`` into it

What this module created carries :data:`MARKER` in its metadata, so running it again updates those two in
place (never a second pair) and ``--delete`` removes only them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from livekit import api as lkapi

from theo_rtc.transports.livekit.api import DEFAULT_AGENT_NAME, _server
from theo_rtc.transports.livekit.settings import LiveKitError, LiveKitSettings

__all__ = [
    "MARKER",
    "PhoneSetup",
    "SetupResult",
    "apply_phone_setup",
    "delete_phone_setup",
    "list_phone_setup",
]

MARKER = "theo livekit sip-setup"
TRUNK_NAME = "theo-inbound"
RULE_NAME = "theo-calls"
ROOM_PREFIX = "call-"
DEFAULT_GREETING = "Hello, this is Theo. How can I help you?"


@dataclass(frozen=True)
class PhoneSetup:
    numbers: tuple[str, ...] = ()
    """Called numbers the trunk answers (the INVITE's To user); empty: any."""
    allowed_addresses: tuple[str, ...] = ("127.0.0.1/32",)
    """Source IPs or CIDR blocks calls may come from; others are refused."""
    auth_username: str = ""
    auth_password: str = ""
    agent_name: str = DEFAULT_AGENT_NAME
    room_prefix: str = ROOM_PREFIX
    greeting: str = DEFAULT_GREETING
    """Spoken by Theo when it answers; empty: no greeting."""
    session: dict[str, Any] = field(default_factory=dict)
    """Session options for the call (language, model, tts_voice, agent, ...), as dispatch metadata."""

    def __post_init__(self) -> None:
        if bool(self.auth_username) != bool(self.auth_password):
            raise LiveKitError("digest auth needs both a username and a password")
        if not self.agent_name:
            raise LiveKitError("the dispatch rule needs an agent name")

    def agent_metadata(self) -> str:
        """What ``theo agent``'s job receives: session options plus ``{"phone": {"greeting": ...}}``."""
        return json.dumps(self.session | {"phone": {"greeting": self.greeting}}, separators=(",", ":"))

    def trunk(self) -> lkapi.SIPInboundTrunkInfo:
        return lkapi.SIPInboundTrunkInfo(
            name=TRUNK_NAME,
            metadata=json.dumps({"created_by": MARKER}),
            numbers=list(self.numbers),
            allowed_addresses=list(self.allowed_addresses),
            auth_username=self.auth_username,
            auth_password=self.auth_password,
        )

    def rule(self, trunk_id: str) -> lkapi.SIPDispatchRuleInfo:
        return lkapi.SIPDispatchRuleInfo(
            name=RULE_NAME,
            metadata=json.dumps({"created_by": MARKER}),
            trunk_ids=[trunk_id],
            rule=lkapi.SIPDispatchRule(
                dispatch_rule_individual=lkapi.SIPDispatchRuleIndividual(room_prefix=self.room_prefix)
            ),
            room_config=lkapi.RoomConfiguration(
                agents=[lkapi.RoomAgentDispatch(agent_name=self.agent_name, metadata=self.agent_metadata())]
            ),
        )


@dataclass(frozen=True)
class SetupResult:
    trunk: lkapi.SIPInboundTrunkInfo
    rule: lkapi.SIPDispatchRuleInfo
    trunk_action: str  # created | updated | unchanged
    rule_action: str


def _ours(metadata: str) -> bool:
    try:
        value = json.loads(metadata) if metadata else {}
    except json.JSONDecodeError:
        return False
    return isinstance(value, dict) and value.get("created_by") == MARKER


def _same(a: Any, b: Any, fields: tuple[str, ...]) -> bool:
    return all(getattr(a, f) == getattr(b, f) for f in fields)


_TRUNK_FIELDS = ("name", "metadata", "numbers", "allowed_addresses", "auth_username", "auth_password")
_RULE_FIELDS = ("name", "metadata", "trunk_ids", "rule", "room_config")


async def list_phone_setup(
    settings: LiveKitSettings,
) -> tuple[list[lkapi.SIPInboundTrunkInfo], list[lkapi.SIPDispatchRuleInfo]]:
    """Every inbound trunk and dispatch rule on the server (this module's and anyone else's)."""
    async with _server(settings) as server:
        trunks = (await server.sip.list_inbound_trunk(lkapi.ListSIPInboundTrunkRequest())).items
        rules = (await server.sip.list_dispatch_rule(lkapi.ListSIPDispatchRuleRequest())).items
    return list(trunks), list(rules)


async def apply_phone_setup(settings: LiveKitSettings, setup: PhoneSetup) -> SetupResult:
    """Create Theo's trunk and dispatch rule, or bring the ones created before in line with ``setup``."""
    trunks, rules = await list_phone_setup(settings)
    wanted_trunk = setup.trunk()
    async with _server(settings) as server:
        mine = [t for t in trunks if _ours(t.metadata)]
        if not mine:
            trunk = await server.sip.create_inbound_trunk(
                lkapi.CreateSIPInboundTrunkRequest(trunk=wanted_trunk)
            )
            trunk_action = "created"
        elif _same(mine[0], wanted_trunk, _TRUNK_FIELDS):
            trunk, trunk_action = mine[0], "unchanged"
        else:
            trunk = await server.sip.update_inbound_trunk(mine[0].sip_trunk_id, wanted_trunk)
            trunk_action = "updated"
        for extra in mine[1:]:  # left over from a concurrent run: one pair only
            await server.sip.delete_trunk(lkapi.DeleteSIPTrunkRequest(sip_trunk_id=extra.sip_trunk_id))

        wanted_rule = setup.rule(trunk.sip_trunk_id)
        mine_rules = [r for r in rules if _ours(r.metadata)]
        if not mine_rules:
            rule = await server.sip.create_dispatch_rule(
                lkapi.CreateSIPDispatchRuleRequest(dispatch_rule=wanted_rule)
            )
            rule_action = "created"
        elif _same(mine_rules[0], wanted_rule, _RULE_FIELDS):
            rule, rule_action = mine_rules[0], "unchanged"
        else:
            rule = await server.sip.update_dispatch_rule(mine_rules[0].sip_dispatch_rule_id, wanted_rule)
            rule_action = "updated"
        for extra_rule in mine_rules[1:]:
            await server.sip.delete_dispatch_rule(
                lkapi.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=extra_rule.sip_dispatch_rule_id)
            )
    return SetupResult(trunk, rule, trunk_action, rule_action)


async def delete_phone_setup(settings: LiveKitSettings) -> tuple[list[str], list[str]]:
    """Delete the trunks and dispatch rules this module created (rules first); their ids."""
    trunks, rules = await list_phone_setup(settings)
    deleted_rules = [r.sip_dispatch_rule_id for r in rules if _ours(r.metadata)]
    deleted_trunks = [t.sip_trunk_id for t in trunks if _ours(t.metadata)]
    async with _server(settings) as server:
        for rule_id in deleted_rules:
            await server.sip.delete_dispatch_rule(
                lkapi.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=rule_id)
            )
        for trunk_id in deleted_trunks:
            await server.sip.delete_trunk(lkapi.DeleteSIPTrunkRequest(sip_trunk_id=trunk_id))
    return deleted_trunks, deleted_rules
