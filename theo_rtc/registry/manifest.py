"""The ``theo.yaml`` manifest (seed §4.3) that describes every installed model."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

MANIFEST_FILE = "theo.yaml"

ModelType = Literal["stt", "tts", "vad", "llm"]


class Capabilities(BaseModel):
    model_config = ConfigDict(extra="allow")

    streaming: bool = False
    languages: list[str] = Field(default_factory=lambda: ["auto"])
    word_timestamps: bool = False
    translation: bool = False
    partial_transcripts: bool = False
    hot_words: bool = False
    batch_inference: bool = False
    voices: list[str] = Field(default_factory=list)


class Resources(BaseModel):
    memory_mb: int = 0
    gpu_required: bool = False
    gpu_recommended: bool = False
    load_time_seconds: float = 0.0
    disk_mb: int = 0


class ModelManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    engine: str
    type: ModelType
    architecture: str | None = None
    description: str = ""
    license: str = ""
    source: str = ""
    capabilities: Capabilities = Field(default_factory=Capabilities)
    resources: Resources = Field(default_factory=Resources)
    engine_config: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def load(cls, model_dir: Path) -> ModelManifest:
        data = yaml.safe_load((model_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
        return cls.model_validate(data)

    def save(self, model_dir: Path) -> None:
        text = yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
        (model_dir / MANIFEST_FILE).write_text(text, encoding="utf-8")
