"""Find engine backends through entry points, so adding an engine changes nothing in the core."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Literal

from theo_rtc.backends.stt import STTBackend
from theo_rtc.backends.tts import TTSBackend

STT_GROUP = "theo_rtc.stt_backends"
TTS_GROUP = "theo_rtc.tts_backends"

Kind = Literal["stt", "tts"]


class EngineNotInstalledError(LookupError):
    pass


def available_engines(kind: Kind) -> list[str]:
    group = STT_GROUP if kind == "stt" else TTS_GROUP
    return sorted({ep.name for ep in entry_points(group=group)})


def _load(group: str, engine: str) -> type:
    matches = [ep for ep in entry_points(group=group) if ep.name == engine]
    if not matches:
        installed = ", ".join(sorted({ep.name for ep in entry_points(group=group)})) or "none"
        raise EngineNotInstalledError(
            f"no plugin provides engine {engine!r} (installed: {installed}); install its theo-plugin package"
        )
    cls: type = matches[0].load()
    return cls


def load_stt_backend(engine: str) -> STTBackend:
    cls = _load(STT_GROUP, engine)
    if not issubclass(cls, STTBackend):
        raise TypeError(f"{cls!r} registered for {engine!r} is not an STTBackend")
    return cls()


def load_tts_backend(engine: str) -> TTSBackend:
    cls = _load(TTS_GROUP, engine)
    if not issubclass(cls, TTSBackend):
        raise TypeError(f"{cls!r} registered for {engine!r} is not a TTSBackend")
    return cls()


def find_model_file(model_dir: Path, config: Mapping[str, Any], pattern: str = "*.onnx") -> Path:
    """The weights file a plugin should load: ``engine_config.model_file`` or the only ``pattern`` match."""
    if config.get("model_file"):
        return model_dir / str(config["model_file"])
    candidates = sorted(model_dir.glob(pattern))
    if len(candidates) != 1:
        raise FileNotFoundError(
            f"expected exactly one {pattern} in {model_dir} (found {len(candidates)}); set model_file"
        )
    return candidates[0]
