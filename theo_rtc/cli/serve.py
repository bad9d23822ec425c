"""``theo serve``."""

from __future__ import annotations

import os

import typer

from theo_rtc.cli.output import console


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", "--host", envvar="THEO_HOST", help="Address to listen on."),
        port: int = typer.Option(8000, "--port", envvar="THEO_PORT", help="TCP port."),
        preload: list[str] = typer.Option(
            [],
            "--preload",
            help="Models whose workers start with the server (default: the default STT model).",
        ),
        default_stt_model: str = typer.Option(
            "whisper-tiny.en",
            "--default-stt-model",
            envvar="THEO_DEFAULT_STT_MODEL",
            help="Default STT model.",
        ),
        ice_host: list[str] = typer.Option(
            [],
            "--ice-host",
            help="Address offered to WebRTC peers (repeatable); e.g. 127.0.0.1 for a browser on this "
            "machine. Default: every non-loopback interface.",
        ),
        log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
        shutdown_grace: float = typer.Option(
            10.0,
            "--shutdown-grace",
            envvar="THEO_SHUTDOWN_GRACE_S",
            min=0.0,
            help="Seconds SIGTERM gives sessions to flush and REST requests to finish before they are "
            "cancelled (503) and the server exits.",
        ),
    ) -> None:
        """Start the API server: OpenAI audio endpoints, /health, /metrics (and the web demo)."""
        import logging

        import uvicorn

        from theo_rtc.auth import SecurityState
        from theo_rtc.auth.exposure import exposure_warnings
        from theo_rtc.config import TheoSettings
        from theo_rtc.server import create_app
        from theo_rtc.server.drain import DrainingServer

        if logging.getLogger().level > logging.INFO:
            logging.getLogger("theo").setLevel(logging.INFO)  # a server says what it is doing
        os.environ.setdefault("THEO_DEFAULT_STT_MODEL", default_stt_model)
        settings = TheoSettings(
            host=host,
            port=port,
            default_stt_model=default_stt_model,
            preload_models=list(preload),
            shutdown_grace_s=shutdown_grace,
        )
        if ice_host:  # otherwise THEO_WEBRTC_ICE_HOSTS (or the default) stands
            settings.webrtc_ice_hosts = list(ice_host)
        console.print(f"Theo RTC on http://{host}:{port}  (models: {settings.models_dir})")
        for warning in exposure_warnings(settings, SecurityState.from_settings(settings)):
            console.print(f"[bold red]WARNING:[/] {warning}")
        app = create_app(settings)
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            # WebSocket heartbeat (seed §7.3): ping every 10 s, drop the connection after 5 s without a pong.
            ws_ping_interval=10.0,
            ws_ping_timeout=5.0,
            # One WebSocket message is read whole before Theo sees it: bound it (uvicorn's default is
            # 16 MiB). Up to 4 x THEO_MAX_FRAME_BYTES a message is answered in-band; past this, close 1009.
            ws_max_size=max(1 << 20, 4 * settings.max_frame_bytes + 1024),
            # SIGTERM drains first (DrainingServer); what uvicorn still waits for after that is bounded.
            timeout_graceful_shutdown=2,
        )
        DrainingServer(config, drain=app.state.drain, grace_s=settings.shutdown_grace_s).run()
