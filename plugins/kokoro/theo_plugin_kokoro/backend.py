"""Kokoro-82M TTS through kokoro-onnx: 24 kHz, ~50 voices in 9 languages (pt-BR: pf_dora, pm_alex).

Model directory (what ``theo pull kokoro-82m`` installs)::

    kokoro-v1.0.int8.onnx        the model (any single *.onnx, or engine_config.model_file)
    voices/<voice>.bin           raw float32 style tables, 510 x 1 x 256 each (kokoro-js layout)
      or voices.npz / voices-v1.0.bin   the same tables as one .npz (kokoro-onnx release layout)

engine_config keys (all optional): ``model_file``, ``voices_dir`` (default ``voices``),
``voices_file`` (an .npz, instead of ``voices_dir``), ``threads`` (ONNX Runtime intra-op threads,
0 = all cores), ``spin_threads`` (let idle ORT threads busy-wait, default false),
``sentence_pause`` (seconds of silence between sentences, default 0.2), ``voice_map`` (OpenAI
name -> native voice), ``default_voice`` (default ``af_heart``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from theo_rtc.backends.discovery import find_model_file
from theo_rtc.backends.tts import TTSBackend
from theo_rtc.backends.types import AudioChunk, HealthStatus, VoiceInfo
from theo_rtc.tts.streaming import clamp_speed, float_to_pcm16, stream_pieces
from theo_rtc.tts.text import guess_language, sanitize_text, split_sentences
from theo_rtc.tts.voices import is_openai_voice, primary_language, resolve_voice

log = logging.getLogger(__name__)

SAMPLE_RATE = 24_000
_STYLE_DIM = 256

# Kokoro voice ids start with a language letter and a gender letter ("pf_dora": Portuguese, female).
# Value: (language reported in VoiceInfo, espeak-ng language code used for phonemization).
_VOICE_LANGUAGES: dict[str, tuple[str, str]] = {
    "a": ("en-US", "en-us"),
    "b": ("en-GB", "en-gb"),
    "e": ("es", "es"),
    "f": ("fr-FR", "fr-fr"),
    "h": ("hi", "hi"),
    "i": ("it", "it"),
    "j": ("ja", "ja"),
    "p": ("pt-BR", "pt-br"),
    "z": ("zh", "cmn"),
}
# Request language (primary subtag, or full tag where the region matters) -> espeak-ng code.
_REQUEST_LANGUAGES: dict[str, str] = {
    "en": "en-us",
    "en-us": "en-us",
    "en-gb": "en-gb",
    "pt": "pt-br",
    "pt-br": "pt-br",
    "pt-pt": "pt",
    "es": "es",
    "fr": "fr-fr",
    "hi": "hi",
    "it": "it",
    "ja": "ja",
    "zh": "cmn",
}
_MIN_SPEED, _MAX_SPEED = 0.5, 2.0  # what kokoro-onnx accepts


def _voice_info(voice_id: str) -> VoiceInfo:
    lang, _ = _VOICE_LANGUAGES.get(voice_id[:1], ("en-US", "en-us"))
    gender = {"f": "female", "m": "male"}.get(voice_id[1:2], "")
    name = voice_id.split("_", 1)[-1].replace("_", " ").title()
    return VoiceInfo(id=voice_id, name=name, language=lang, gender=gender)


def _read_voice_tables(model_dir: Path, config: Mapping[str, Any]) -> dict[str, np.ndarray]:
    npz_path: Path | None
    if config.get("voices_file"):
        npz_path = model_dir / str(config["voices_file"])
    else:
        candidates = (model_dir / "voices.npz", model_dir / "voices-v1.0.bin")
        npz_path = next((p for p in candidates if p.is_file()), None)
    if npz_path is not None:
        with np.load(npz_path) as npz:
            return {name: np.asarray(npz[name], dtype=np.float32) for name in npz.files}
    bins = sorted((model_dir / str(config.get("voices_dir", "voices"))).glob("*.bin"))
    if not bins:
        raise FileNotFoundError(f"no Kokoro voices in {model_dir} (expected voices/*.bin or voices.npz)")
    tables: dict[str, np.ndarray] = {}
    for path in bins:
        data = np.fromfile(path, dtype="<f4")
        if data.size == 0 or data.size % _STYLE_DIM:
            raise ValueError(f"{path} is not a Kokoro voice table (float32 N x 1 x {_STYLE_DIM})")
        tables[path.stem] = data.reshape(-1, 1, _STYLE_DIM)
    return tables


class KokoroBackend(TTSBackend):
    engine = "kokoro"

    def __init__(self) -> None:
        self._kokoro: Any = None
        self._voices: list[VoiceInfo] = []
        self._voice_map: dict[str, str] = {}
        self._default_voice = "af_heart"
        self._pause = 0.2
        self._model_file = ""

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    async def load(self, model_path: Path | None, config: Mapping[str, Any]) -> None:
        if model_path is None:
            raise ValueError("kokoro needs a model directory (theo pull kokoro-82m)")
        self._kokoro = await asyncio.to_thread(self._load_sync, Path(model_path), dict(config))
        self._voices = [_voice_info(v) for v in sorted(self._kokoro.voices)]
        self._voice_map = {str(k): str(v) for k, v in dict(config.get("voice_map") or {}).items()}
        self._pause = float(config.get("sentence_pause", 0.2))
        wanted = str(config.get("default_voice", "af_heart"))
        self._default_voice = wanted if wanted in self._kokoro.voices else self._voices[0].id

    def _load_sync(self, model_dir: Path, config: dict[str, Any]) -> Any:
        import onnxruntime as ort
        from kokoro_onnx import Kokoro

        model_file = find_model_file(model_dir, config)
        self._model_file = model_file.name
        tables = _read_voice_tables(model_dir, config)

        options = ort.SessionOptions()
        threads = int(config.get("threads", 0))
        if threads > 0:
            options.intra_op_num_threads = threads
        # Idle ORT threads busy-wait by default; on small CPUs that steals cores from the STT worker.
        if not config.get("spin_threads", False):
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(
            str(model_file), sess_options=options, providers=["CPUExecutionProvider"]
        )

        # kokoro-onnx insists on reading voices from an .npz path; hand it a throwaway one and then
        # swap in the in-memory tables (the npz would otherwise stay open and be read lazily).
        fd, tmp = tempfile.mkstemp(suffix=".npz", prefix="theo-kokoro-voices-")
        os.close(fd)
        try:
            stubs: dict[str, Any] = {name: table[:1] for name, table in tables.items()}
            np.savez(tmp, **stubs)
            kokoro = Kokoro.from_session(session, tmp)
        finally:
            os.unlink(tmp)
        kokoro.voices = tables
        return kokoro

    async def voices(self) -> list[VoiceInfo]:
        return list(self._voices)

    def _pick(self, voice: str, language: str | None, text: str) -> tuple[str, str]:
        """Native voice id and espeak-ng language code for a request."""
        if not voice:
            voice = self._default_voice
        wanted_lang = language or (guess_language(text) if is_openai_voice(voice) else None)
        info = resolve_voice(
            voice, self._voices, engine=self.engine, language=wanted_lang, overrides=self._voice_map
        )
        lang_code = _VOICE_LANGUAGES.get(info.id[:1], ("", "en-us"))[1]
        if language:
            tag = language.replace("_", "-").lower()
            explicit = _REQUEST_LANGUAGES.get(tag) or _REQUEST_LANGUAGES.get(primary_language(tag) or "")
            if explicit and not (explicit == "en-us" and lang_code == "en-gb"):
                lang_code = explicit
        return info.id, lang_code

    async def synthesize(
        self, text: str, voice: str, *, speed: float = 1.0, language: str | None = None
    ) -> AsyncIterator[AudioChunk]:
        if self._kokoro is None:
            raise RuntimeError("kokoro backend is not loaded")
        clean = sanitize_text(text)
        voice_id, lang = self._pick(voice, language, clean)
        speed = clamp_speed(speed, _MIN_SPEED, _MAX_SPEED)
        kokoro = self._kokoro

        def render(piece: str) -> bytes:
            try:
                audio, _ = kokoro.create(piece, voice=voice_id, speed=speed, lang=lang, trim=True)
            except ValueError as error:
                # Pieces of pure symbols can phonemize to nothing; skip them rather than fail.
                if "phoneme" in str(error).lower():
                    log.debug("kokoro skipped %r: %s", piece, error)
                    return b""
                raise
            return float_to_pcm16(audio)

        async for chunk in stream_pieces(
            split_sentences(clean), render, SAMPLE_RATE, pause_seconds=self._pause
        ):
            yield chunk

    async def unload(self) -> None:
        self._kokoro = None
        self._voices = []

    async def health(self) -> HealthStatus:
        if self._kokoro is None:
            return HealthStatus(status="not_loaded")
        return HealthStatus(details={"model_file": self._model_file, "voices": str(len(self._voices))})
