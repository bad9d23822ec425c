"""``theo livekit sip-setup``: route phone calls that reach LiveKit SIP to Theo's agent.

One inbound trunk (which numbers, from which addresses, optional digest auth) and one dispatch rule (a room
``call-...`` per call, ``room_config.agents`` dispatching ``theo``), created with ``livekit-api``; running it
again brings them in line with the options, ``--list`` shows what the server has, ``--delete`` removes only
what this command created.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from theo_rtc.cli.livekit import _API_KEY, _API_SECRET, _URL, _run, _settings, app, fail
from theo_rtc.cli.output import console

if TYPE_CHECKING:  # livekit-api loads inside the command: every other `theo` command starts without it
    from livekit import api as lkapi


@app.command("sip-setup")
def sip_setup(
    number: list[str] = typer.Option(
        None, "--number", help="A number the trunk answers (repeat for more; default: any)."
    ),
    allow: list[str] = typer.Option(
        None, "--allow", help="Source address or CIDR calls may come from (repeat; default 127.0.0.1/32)."
    ),
    auth_user: str = typer.Option("", "--auth-user", help="Digest auth username callers must present."),
    auth_password: str = typer.Option(
        "", "--auth-password", envvar="THEO_SIP_AUTH_PASSWORD", help="Digest auth password."
    ),
    greeting: str = typer.Option(
        None, "--greeting", help="What Theo says when it answers ('' for nothing; default: a short hello)."
    ),
    metadata: str = typer.Option(
        None, "--metadata", help='Session options for calls, JSON (e.g. \'{"language": "en", "agent": {}}\').'
    ),
    agent_name: str = typer.Option("theo", "--agent-name", help="Agent the dispatch rule sends into calls."),
    room_prefix: str = typer.Option("call-", "--room-prefix", help="Prefix of each call's room name."),
    list_only: bool = typer.Option(False, "--list", help="Show the server's inbound trunks and rules."),
    delete: bool = typer.Option(False, "--delete", help="Delete the trunk and rule this command created."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    url: str = _URL,
    api_key: str = _API_KEY,
    api_secret: str = _API_SECRET,
) -> None:
    """Create (or update) the inbound trunk and dispatch rule that bring phone calls to Theo.

    Needs a LiveKit server with Redis and LiveKit SIP, e.g. `theo livekit dev --sip`.
    """
    from google.protobuf.json_format import MessageToDict

    from theo_rtc.transports.livekit import api, siptrunk
    from theo_rtc.transports.livekit.settings import LiveKitError

    settings = _settings(url, api_key, api_secret)
    if list_only and delete:
        fail("--list and --delete go separately")
    if list_only:
        trunks, rules = _run(siptrunk.list_phone_setup(settings))
        _show(trunks, rules, as_json)
        return
    if delete:
        trunk_ids, rule_ids = _run(siptrunk.delete_phone_setup(settings))
        typer.echo(
            f"deleted {len(trunk_ids)} trunk(s) {' '.join(trunk_ids)} and {len(rule_ids)} dispatch "
            f"rule(s) {' '.join(rule_ids)}".replace("  ", " ")
        )
        return
    try:
        session = json.loads(api.parse_metadata(metadata) or "{}")
        if not isinstance(session, dict):
            raise LiveKitError("--metadata must be a JSON object of session options")
        setup = siptrunk.PhoneSetup(
            numbers=tuple(number or ()),
            allowed_addresses=tuple(allow or siptrunk.PhoneSetup.allowed_addresses),
            auth_username=auth_user,
            auth_password=auth_password,
            agent_name=agent_name,
            room_prefix=room_prefix,
            greeting=siptrunk.DEFAULT_GREETING if greeting is None else greeting,
            session=session,
        )
    except LiveKitError as exc:
        fail(exc.message)
    result = _run(siptrunk.apply_phone_setup(settings, setup))
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "trunk": MessageToDict(result.trunk, preserving_proto_field_name=True),
                    "trunk_action": result.trunk_action,
                    "dispatch_rule": MessageToDict(result.rule, preserving_proto_field_name=True),
                    "dispatch_rule_action": result.rule_action,
                },
                indent=2,
            )
        )
        return
    typer.echo(f"trunk {result.trunk.sip_trunk_id} ({result.trunk_action})")
    typer.echo(f"dispatch rule {result.rule.sip_dispatch_rule_id} ({result.rule_action})")
    typer.echo(
        f"calls to {', '.join(setup.numbers) or 'any number'} from {', '.join(setup.allowed_addresses)} "
        f"-> a room {setup.room_prefix}... each, agent {setup.agent_name!r}"
        + (" (digest auth)" if setup.auth_username else "")
    )


def _show(
    trunks: list[lkapi.SIPInboundTrunkInfo], rules: list[lkapi.SIPDispatchRuleInfo], as_json: bool
) -> None:
    from google.protobuf.json_format import MessageToDict

    from theo_rtc.transports.livekit.siptrunk import _ours

    if as_json:
        typer.echo(
            json.dumps(
                {
                    "inbound_trunks": [MessageToDict(t, preserving_proto_field_name=True) for t in trunks],
                    "dispatch_rules": [MessageToDict(r, preserving_proto_field_name=True) for r in rules],
                },
                indent=2,
            )
        )
        return
    if not trunks and not rules:
        typer.echo("no inbound trunks and no dispatch rules")
        return
    table = Table("KIND", "ID", "NAME", "DETAILS", "OURS", box=None, pad_edge=False)
    for t in trunks:
        details = (
            f"numbers={','.join(t.numbers) or 'any'} allowed={','.join(t.allowed_addresses) or 'any'}"
            + (f" auth={t.auth_username}" if t.auth_username else "")
        )
        table.add_row("trunk", t.sip_trunk_id, t.name, details, "yes" if _ours(t.metadata) else "")
    for r in rules:
        kind = r.rule.WhichOneof("rule") or "?"
        prefix = r.rule.dispatch_rule_individual.room_prefix if kind == "dispatch_rule_individual" else ""
        agents = ",".join(a.agent_name for a in r.room_config.agents)
        details = f"{kind} prefix={prefix} trunks={','.join(r.trunk_ids) or 'any'} agents={agents or '-'}"
        table.add_row("rule", r.sip_dispatch_rule_id, r.name, details, "yes" if _ours(r.metadata) else "")
    console.print(table)
