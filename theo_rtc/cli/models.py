"""``theo pull | list | inspect | rm | ps``."""

from __future__ import annotations

import httpx
import typer
import yaml
from rich.table import Table

from theo_rtc.cli.output import RichDownloadProgress, console, fail, fail_on
from theo_rtc.config import TheoSettings
from theo_rtc.errors import TheoError
from theo_rtc.registry import ModelStore, load_catalog

DEFAULT_SERVER = "http://127.0.0.1:8000"


def _human(nbytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1024:
            return f"{nbytes:.0f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} TB"


def register(app: typer.Typer) -> None:
    @app.command()
    def pull(
        names: list[str] = typer.Argument(
            ..., help="Model names from the catalog (see `theo list --available`)."
        ),
        force: bool = typer.Option(False, "--force", help="Download again even if installed."),
    ) -> None:
        """Download, verify (sha256) and install models into $THEO_HOME/models."""
        store = ModelStore(TheoSettings())
        for name in names:
            if store.is_installed(name) and not force:
                console.print(f"[green]✓[/] {name} is already installed ({store.get(name).path})")
                continue
            try:
                with RichDownloadProgress() as progress:
                    model = store.install(name, progress=progress, force=force)
            except TheoError as exc:
                fail_on(exc)
            console.print(f"[green]✓[/] installed {name} ({_human(model.size_bytes)}) in {model.path}")

    @app.command("list")
    def list_models(
        available: bool = typer.Option(
            False, "--available", "-a", help="Show the catalog of pullable models."
        ),
    ) -> None:
        """List installed models (or, with --available, every model `theo pull` knows)."""
        store = ModelStore(TheoSettings())
        if available:
            table = Table("NAME", "TYPE", "ENGINE", "SOURCE", "INSTALLED", "DESCRIPTION")
            for name, entry in load_catalog().items():
                sources = ", ".join(dict.fromkeys(s.kind for s in entry.sources)) or "built in"
                table.add_row(
                    name,
                    entry.manifest["type"],
                    entry.manifest["engine"],
                    sources,
                    "yes" if store.is_installed(name) else "",
                    entry.manifest.get("description", ""),
                )
        else:
            table = Table("NAME", "TYPE", "ENGINE", "SIZE", "PATH")
            for model in store.list():
                table.add_row(
                    model.name,
                    model.manifest.type,
                    model.manifest.engine,
                    _human(model.size_bytes),
                    str(model.path),
                )
            if not table.rows:
                console.print(
                    "no models installed; try `theo pull whisper-tiny.en` (`theo list -a` shows all)"
                )
                return
        console.print(table)

    @app.command()
    def inspect(name: str = typer.Argument(..., help="Installed model name.")) -> None:
        """Show a model's manifest (theo.yaml), path and size."""
        try:
            model = ModelStore(TheoSettings()).get(name)
        except TheoError as exc:
            fail_on(exc)
        console.print(f"[bold]{model.name}[/]  {model.path}  ({_human(model.size_bytes)})")
        console.print(
            yaml.safe_dump(model.manifest.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
        )

    @app.command("rm")
    def remove(names: list[str] = typer.Argument(..., help="Installed model names.")) -> None:
        """Remove installed models."""
        store = ModelStore(TheoSettings())
        for name in names:
            try:
                store.remove(name)
            except TheoError as exc:
                fail_on(exc)
            console.print(f"removed {name}")

    @app.command()
    def ps(
        server: str = typer.Option(DEFAULT_SERVER, "--server", help="URL of a running `theo serve`."),
    ) -> None:
        """List models loaded in a running server's workers."""
        try:
            data = httpx.get(f"{server.rstrip('/')}/api/ps", timeout=10).json()
        except httpx.HTTPError as exc:
            fail(f"cannot reach {server}: {exc}")
        table = Table("NAME", "TYPE", "ENGINE", "STATE", "PID", "RESTARTS", "UPTIME", "IN FLIGHT")
        for w in data["models"]:
            table.add_row(
                w["model"],
                w["type"],
                w["engine"],
                w["state"],
                str(w["pid"] or "-"),
                str(w["restarts"]),
                f"{w['uptime_s']:.0f}s",
                str(w["in_flight"]),
            )
        console.print(table)
