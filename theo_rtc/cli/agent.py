"""``theo agent``: join LiveKit rooms as an agent participant (explicit dispatch)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

import typer

from theo_rtc.cli.output import console

DEV_URL = "ws://127.0.0.1:7880"  # the server `theo livekit dev` runs (livekit.yaml)


def register(app: typer.Typer) -> None:
    @app.command()
    def agent(
        url: str = typer.Option(DEV_URL, "--url", envvar="LIVEKIT_URL", help="LiveKit server URL."),
        api_key: str = typer.Option("devkey", "--api-key", envvar="LIVEKIT_API_KEY", help="API key."),
        api_secret: str = typer.Option(
            "secret", "--api-secret", envvar="LIVEKIT_API_SECRET", help="API secret."
        ),
        agent_name: str = typer.Option(
            "theo",
            "--agent-name",
            envvar="THEO_AGENT_NAME",
            help="Name dispatches must ask for (explicit dispatch: `theo livekit dispatch --room R`).",
        ),
        max_rooms: int = typer.Option(8, "--max-rooms", min=1, help="Rooms this worker serves at once."),
        max_tracks: int = typer.Option(
            8,
            "--max-tracks",
            min=1,
            help="Audio tracks transcribed per room; more are ignored (and said so).",
        ),
        preload: list[str] = typer.Option(
            [], "--preload", help="Models loaded before registering (default: the default STT model)."
        ),
        health_port: int = typer.Option(
            8081, "--health-port", help="Worker health endpoint on 127.0.0.1 (GET / is 200 once registered)."
        ),
    ) -> None:
        """Register with a LiveKit server as agent NAME; every dispatched job joins its room, transcribes
        each remote audio track (partials and finals on `lk.transcription` and `theo.events`) and speaks
        `tts.speak` requests on Theo's own track. Engines load once per worker, before registering."""
        from theo_rtc.session import SessionConfig
        from theo_rtc.transports.livekit.settings import LiveKitSettings
        from theo_rtc.transports.livekit.worker import AgentOptions

        if logging.getLogger().level > logging.INFO:
            logging.getLogger("theo").setLevel(logging.INFO)  # a worker says what it is doing
        options = AgentOptions(
            livekit=LiveKitSettings(url=url, api_key=api_key, api_secret=api_secret),
            agent_name=agent_name,
            max_rooms=max_rooms,
            max_tracks_per_room=max_tracks,
            preload=tuple(preload),
            health_port=health_port,
            config=SessionConfig(),
        )
        console.print(f"theo agent {agent_name!r} for {url} (health on http://127.0.0.1:{health_port}/)")
        sys.exit(_serve(options))


def _serve(options: object) -> int:
    from theo_rtc.transports.livekit.worker import AgentOptions, run_agent

    assert isinstance(options, AgentOptions)

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):  # stop cleanly: leave rooms, stop engine workers
            loop.add_signal_handler(sig, task.cancel)
        await run_agent(options)

    with contextlib.suppress(asyncio.CancelledError, KeyboardInterrupt):
        asyncio.run(main())
    return 0
