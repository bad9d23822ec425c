"""``theo``: manage models, run the server, transcribe from the terminal (Ollama-style UX)."""

from __future__ import annotations

import logging

import typer
from rich.logging import RichHandler

from theo_rtc import __version__
from theo_rtc.cli import agent, livekit, models, normalize, serve, speak, transcribe
from theo_rtc.cli.output import err_console

app = typer.Typer(
    name="theo",
    help=(
        "Theo RTC — self-hosted realtime voice runtime.\n\n"
        "Typical use: `theo pull whisper-tiny.en`, then `theo serve` and point any OpenAI client at "
        "http://127.0.0.1:8000/v1, or `theo transcribe speech.wav` without a server.\n\n"
        "Models live in $THEO_HOME (default ~/.theo)."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"theo {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    # Logs go to stderr so that stdout carries only results (transcripts, tables) and can be piped.
    # On a terminal, rich; redirected to a file (a service, CI), one plain unwrapped line per record.
    handler: logging.Handler
    if err_console.is_terminal:
        handler = RichHandler(console=err_console, show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    else:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, handlers=[handler])


models.register(app)
serve.register(app)
transcribe.register(app)
normalize.register(app)
speak.register(app)
livekit.register(app)
agent.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
