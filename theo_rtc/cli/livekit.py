"""``theo livekit dev | token | dispatch | rooms``: a local LiveKit server and the room plumbing around
Theo's LiveKit agent.

Server settings follow LiveKit's conventions: ``--url`` / ``LIVEKIT_URL``, ``--api-key`` /
``LIVEKIT_API_KEY``, ``--api-secret`` / ``LIVEKIT_API_SECRET``, defaulting to the dev server that
``theo livekit dev`` runs from ``livekit.yaml``.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import warnings
from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from rich.table import Table

from theo_rtc.cli.output import console, err_console

if TYPE_CHECKING:
    from theo_rtc.transports.livekit.settings import LiveKitSettings
    from theo_rtc.transports.livekit.sipserver import LocalTelephony

# theo_rtc.transports is imported inside the commands: its package pulls in the whole runtime, which
# every other `theo` command would pay for at start-up. These match theo_rtc.transports.livekit.settings
# (tests/livekit/test_devserver.py checks that).
DEV_URL = "ws://127.0.0.1:7880"
DEV_API_KEY = "devkey"
DEV_API_SECRET = "secret"

T = TypeVar("T")

app = typer.Typer(
    name="livekit",
    help=(
        "LiveKit rooms: run a local livekit-server, mint join tokens, dispatch Theo's agent into rooms.\n\n"
        "Typical use: `theo livekit dev` in one terminal; then `theo livekit token --room demo --identity "
        "me` for a client, `theo livekit dispatch --room demo` to send Theo in, `theo livekit rooms` to "
        "see what is going on.\n\n"
        "Server: --url/LIVEKIT_URL, --api-key/LIVEKIT_API_KEY, --api-secret/LIVEKIT_API_SECRET "
        f"(default: the dev server, {DEV_URL}, {DEV_API_KEY}/{DEV_API_SECRET})."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)


def register(parent: typer.Typer) -> None:
    from theo_rtc.cli import livekit_sip  # noqa: F401 (adds `theo livekit sip-setup` to this app)

    parent.add_typer(app, name="livekit")


# PyJWT warns about every HMAC key under 32 bytes; the dev secret is one on purpose (livekit-server
# logs the same complaint at start), and a real deployment's secret is the user's business.
warnings.filterwarnings("ignore", message="The HMAC key is .* below the minimum", category=UserWarning)


def fail(message: str) -> NoReturn:
    """One line on stderr (never wrapped by rich), exit code 1."""
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False)
    raise typer.Exit(1)


_URL = typer.Option(DEV_URL, "--url", envvar="LIVEKIT_URL", help="LiveKit server URL (ws:// or http://).")
_API_KEY = typer.Option(DEV_API_KEY, "--api-key", envvar="LIVEKIT_API_KEY", help="API key.")
_API_SECRET = typer.Option(
    DEV_API_SECRET, "--api-secret", envvar="LIVEKIT_API_SECRET", help="API secret (signs the tokens)."
)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    from theo_rtc.transports.livekit.settings import LiveKitError

    try:
        return asyncio.run(coro)
    except LiveKitError as exc:
        fail(exc.message)


def _settings(url: str, api_key: str, api_secret: str) -> LiveKitSettings:
    from theo_rtc.transports.livekit.settings import LiveKitSettings

    return LiveKitSettings.from_env(url, api_key, api_secret)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """``90``, ``90s``, ``30m``, ``6h``, ``1d``, ``1h30m`` → a positive timedelta."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        seconds = float(text)
    elif text and _DURATION.sub("", text) == "":
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _DURATION.findall(text))
    else:
        raise typer.BadParameter(f"{text!r} is not a duration (e.g. 90s, 30m, 6h, 1d, 1h30m)")
    if seconds <= 0:
        raise typer.BadParameter("must be longer than 0 s")
    return timedelta(seconds=seconds)


def _parse_udp_range(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)-(\d+)", text.strip())
    if not match or not (0 < int(match[1]) <= int(match[2]) < 65536):
        raise typer.BadParameter(f"{text!r} is not a port range like 50000-50100")
    return int(match[1]), int(match[2])


@app.command()
def dev(
    config: Path = typer.Option(
        None, "--config", help="livekit-server config to start from (default: livekit.yaml of this checkout)."
    ),
    port: int = typer.Option(None, "--port", help="HTTP/WebSocket port (default: the config's, 7880)."),
    rtc_tcp_port: int = typer.Option(
        None,
        "--rtc-tcp-port",
        help="ICE/TCP port, 0 for none (default: the config's; livekit-server binds it on every interface).",
    ),
    udp_ports: str = typer.Option(
        None, "--udp-ports", help="ICE/UDP media port range, e.g. 50000-50100 (default: the config's)."
    ),
    sip: bool = typer.Option(
        False, "--sip", help="Also run Redis and LiveKit SIP (phone calls; config livekit-sip.yaml)."
    ),
    sip_port: int = typer.Option(
        None, "--sip-port", help="SIP port with --sip (default: the config's, 5060)."
    ),
    redis_port: int = typer.Option(None, "--redis-port", help="Redis port with --sip (default: 6379)."),
) -> None:
    """Run a local livekit-server (built by `scripts/setup --dev`) until Ctrl-C or SIGTERM.

    Everything listens on 127.0.0.1: signalling and the server API on ws://127.0.0.1:7880.

    Media: ICE/UDP on the port range of livekit.yaml. The server's log goes to this terminal.

    --sip: Redis (no persistence) + livekit-server on it + livekit-sip, SIP on 127.0.0.1:5060 and RTP on
    10000-10100; then `theo livekit sip-setup` routes calls to Theo.
    """
    from theo_rtc.transports.livekit.devserver import (
        DEFAULT_CONFIG,
        LocalLiveKit,
        find_livekit_server,
        server_version,
    )
    from theo_rtc.transports.livekit.settings import LiveKitError
    from theo_rtc.transports.livekit.sipserver import LocalTelephony

    telephony: LocalTelephony | None = None
    try:
        binary = find_livekit_server()
        udp_range = _parse_udp_range(udp_ports) if udp_ports else None
        if sip:
            telephony = LocalTelephony(
                livekit_config=config or DEFAULT_CONFIG,
                port=port,
                rtc_tcp_port=rtc_tcp_port,
                udp_port_range=udp_range,
                redis_port=redis_port,
                sip_port=sip_port,
            )
            server = telephony.livekit
        else:
            server = LocalLiveKit(
                config or DEFAULT_CONFIG,
                port=port,
                rtc_tcp_port=rtc_tcp_port,
                udp_port_range=udp_range,
                binary=binary,
            )
    except LiveKitError as exc:
        fail(exc.message)

    stopping = False

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt

    # SIGINT too: a shell starts background jobs with SIGINT ignored, and Python then keeps it ignored.
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            telephony.start() if telephony is not None else server.start()
        except LiveKitError as exc:
            fail(exc.message)
        udp = server.udp_port_range
        err_console.print(
            f"[bold green]LiveKit dev server[/] {server_version(binary)} ({binary})\n"
            f"  url         {server.url}\n"
            f"  api key     {server.api_key}   secret {server.api_secret}\n"
            f"  media       UDP {f'{udp[0]}-{udp[1]}' if udp else 'any port'} on {server.host}"
            + (f", ICE/TCP {server.rtc_tcp_port} (all interfaces)" if server.rtc_tcp_port else "")
            + f"\n  config      {server.config_path}\n"
            + (_telephony_lines(telephony) if telephony is not None else "")
            + "Ctrl-C stops it."
        )
        if telephony is not None:
            gone = telephony.wait_any_exit()
            if not stopping:
                fail(f"{gone} exited by itself")
        exited = server.wait()
        if not stopping:
            fail(f"livekit-server exited by itself with code {exited}")
    except KeyboardInterrupt:
        stopping = True
    finally:
        for sig in previous:  # stop() escalates to SIGKILL within 10 s; a second Ctrl-C can wait
            signal.signal(sig, signal.SIG_IGN)
        if server.running:
            err_console.print("stopping livekit-server ...")
        stopped = telephony.stop() if telephony is not None else server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    err_console.print(f"livekit-server stopped (exit code {stopped})")


def _telephony_lines(telephony: LocalTelephony) -> str:
    config = telephony.sip_config()
    return (
        f"  redis       {telephony.redis_address} (no persistence)\n"
        f"  sip         udp+tcp {telephony.sip_uri_host}, RTP {config.get('rtp_port')}\n"
        f"  sip config  {telephony.sip_config_path}\n"
        "  next        `theo livekit sip-setup` (trunk + dispatch rule), then `theo agent`\n"
    )


@app.command()
def token(
    room: str = typer.Option(..., "--room", help="Room the token lets its holder join."),
    identity: str = typer.Option(..., "--identity", help="Participant identity (unique in the room)."),
    ttl: str = typer.Option("6h", "--ttl", help="How long the token is valid: 90s, 30m, 6h, 1d, 1h30m."),
    name: str = typer.Option(None, "--name", help="Display name of the participant."),
    url: str = _URL,
    api_key: str = _API_KEY,
    api_secret: str = _API_SECRET,
) -> None:
    """Print a join token (JWT) for a room: publish, subscribe and data allowed.

    Signed here with the API secret (no server call). Give it to any LiveKit client with the server URL.
    """
    from theo_rtc.transports.livekit.api import make_token
    from theo_rtc.transports.livekit.settings import LiveKitError

    settings = _settings(url, api_key, api_secret)
    try:
        lifetime = parse_duration(ttl)
        typer.echo(make_token(settings, room, identity, ttl=lifetime, name=name))
    except typer.BadParameter as exc:
        fail(f"--ttl: {exc}")
    except LiveKitError as exc:
        fail(exc.message)


@app.command()
def dispatch(
    room: str = typer.Option(..., "--room", help="Room to send the agent into (created if missing)."),
    agent_name: str = typer.Option("theo", "--agent-name", help="Agent name the worker registered with."),
    metadata: str = typer.Option(
        None, "--metadata", help='JSON handed to the agent\'s job, e.g. \'{"language": "pt"}\'.'
    ),
    url: str = _URL,
    api_key: str = _API_KEY,
    api_secret: str = _API_SECRET,
) -> None:
    """Create an explicit agent dispatch: ask the `theo agent` worker to join a room.

    A room that does not exist yet is created first (livekit-server itself only does so with auto_create).

    The dispatch lives with the room; it starts a job when a worker registered as --agent-name takes it.
    """
    from theo_rtc.transports.livekit import api
    from theo_rtc.transports.livekit.settings import LiveKitError

    settings = _settings(url, api_key, api_secret)
    try:
        meta = api.parse_metadata(metadata)
    except LiveKitError as exc:
        fail(exc.message)

    async def _dispatch() -> tuple[bool, api.DispatchInfo]:
        existed = await api.room_exists(settings, room)
        if not existed:
            await api.create_room(settings, room)
        return existed, await api.create_dispatch(settings, room, agent_name, meta)

    existed, created = _run(_dispatch())
    if not existed:
        err_console.print(f"room {room!r} did not exist: created it", soft_wrap=True, highlight=False)
    typer.echo(
        f"dispatch {created.id}: agent {created.agent_name!r} -> room {created.room!r}"
        + (f"  metadata {created.metadata}" if created.metadata else "")
    )


@app.command()
def rooms(
    agent_name: str = typer.Option("theo", "--agent-name", help="Show this agent's dispatches."),
    all_agents: bool = typer.Option(False, "--all-agents", help="Show every agent's dispatches."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    url: str = _URL,
    api_key: str = _API_KEY,
    api_secret: str = _API_SECRET,
) -> None:
    """List active rooms: participants, publishers and Theo's agent dispatches in each."""
    from theo_rtc.transports.livekit import api

    settings = _settings(url, api_key, api_secret)
    found = _run(api.list_rooms(settings, None if all_agents else agent_name))
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "name": r.name,
                        "sid": r.sid,
                        "num_participants": r.num_participants,
                        "num_publishers": r.num_publishers,
                        "created_at": r.created_at.isoformat(),
                        "dispatches": [
                            {"id": d.id, "agent_name": d.agent_name, "metadata": d.metadata, "jobs": d.jobs}
                            for d in r.dispatches
                        ],
                    }
                    for r in found
                ],
                indent=2,
            )
        )
        return
    if not found:
        typer.echo(f"no active rooms on {settings.url}")
        return
    table = Table("ROOM", "PARTICIPANTS", "PUBLISHERS", "CREATED", "DISPATCHES", box=None, pad_edge=False)
    for r in found:
        # agent_name "" is the room's automatic dispatch (to workers registered without a name).
        dispatches = "\n".join(
            f"{d.id} {d.agent_name or '(automatic)'} jobs={d.jobs}" + (f" {d.metadata}" if d.metadata else "")
            for d in r.dispatches
        )
        table.add_row(
            r.name,
            str(r.num_participants),
            str(r.num_publishers),
            r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            dispatches or "-",
        )
    console.print(table)
