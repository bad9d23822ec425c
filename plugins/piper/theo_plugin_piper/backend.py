"""Piper TTS (piper-tts, GPL-3.0): fast VITS voices, one language per model.

Model directory (what ``theo pull piper-en-joe`` installs)::

    en_US-joe-medium.onnx        the voice (any single *.onnx, or engine_config.model_file)
    en_US-joe-medium.onnx.json   its config (``<model>.json``, or engine_config.config_file)

engine_config keys (all optional): ``model_file``, ``config_file``, ``sentence_pause`` (seconds of
silence appended between sentences, default 0.1; Piper keeps little trailing silence),
``threads`` (ONNX Runtime intra-op threads, 0 = all cores), ``spin_threads`` (let idle ORT threads
busy-wait, default false), ``noise_scale``, ``noise_w``, ``gender`` (of a single-speaker voice,
helps OpenAI name mapping), ``voice_map``, ``default_voice``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from theo_rtc.backends.discovery import find_model_file
from theo_rtc.backends.tts import TTSBackend
from theo_rtc.backends.types import AudioChunk, HealthStatus, VoiceInfo
from theo_rtc.tts.streaming import clamp_speed, float_to_pcm16, stream_pieces
from theo_rtc.tts.text import guess_language, sanitize_text, split_sentences
from theo_rtc.tts.voices import is_openai_voice, resolve_voice

_MIN_SPEED, _MAX_SPEED = 0.25, 4.0


def _session(model_file: Path, config: Mapping[str, Any]) -> Any:
    """The ONNX Runtime session PiperVoice.load would build, with Theo's thread settings."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    threads = int(config.get("threads", 0))
    if threads > 0:
        options.intra_op_num_threads = threads
    # Idle ORT threads busy-wait by default; on small CPUs that spin steals the cores the runtime needs
    # to forward the audio just rendered (and the STT worker's), as in the kokoro plugin.
    if not config.get("spin_threads", False):
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(model_file), sess_options=options, providers=["CPUExecutionProvider"])


class PiperBackend(TTSBackend):
    engine = "piper"

    def __init__(self) -> None:
        self._voice: Any = None
        self._voices: list[VoiceInfo] = []
        self._speakers: dict[str, int] = {}
        self._voice_map: dict[str, str] = {}
        self._default_voice = ""
        self._rate = 22_050
        self._pause = 0.1
        self._length_scale = 1.0
        self._noise: dict[str, float] = {}
        self._model_file = ""
        # piper phonemizes through a process-global espeak-ng instance: one synthesis at a time.
        self._lock = threading.Lock()

    @property
    def sample_rate(self) -> int:
        return self._rate

    async def load(self, model_path: Path | None, config: Mapping[str, Any]) -> None:
        if model_path is None:
            raise ValueError("piper needs a model directory (e.g. theo pull piper-en-joe)")
        await asyncio.to_thread(self._load_sync, Path(model_path), dict(config))

    def _load_sync(self, model_dir: Path, config: dict[str, Any]) -> None:
        from piper import PiperConfig, PiperVoice

        model_file = find_model_file(model_dir, config)
        config_file = model_dir / str(config.get("config_file") or f"{model_file.name}.json")
        raw = json.loads(config_file.read_text(encoding="utf-8"))
        voice = PiperVoice(config=PiperConfig.from_dict(raw), session=_session(model_file, config))

        self._model_file = model_file.name
        self._rate = int(voice.config.sample_rate)
        self._length_scale = float(voice.config.length_scale or 1.0)
        self._pause = float(config.get("sentence_pause", 0.1))
        self._noise = {k: float(config[k]) for k in ("noise_scale", "noise_w") if k in config}
        self._voice_map = {str(k): str(v) for k, v in dict(config.get("voice_map") or {}).items()}

        lang = raw.get("language", {}).get("code") or voice.config.espeak_voice
        lang = str(lang).replace("_", "-")
        gender = str(config.get("gender", ""))
        base = str(raw.get("dataset") or model_file.stem)
        if voice.config.speaker_id_map:
            self._speakers = {str(name): int(sid) for name, sid in voice.config.speaker_id_map.items()}
            self._voices = [
                VoiceInfo(id=name, name=name, language=lang, gender=gender) for name in self._speakers
            ]
        else:
            self._speakers = {base: 0}
            self._voices = [VoiceInfo(id=base, name=base.title(), language=lang, gender=gender)]
        wanted = str(config.get("default_voice", ""))
        self._default_voice = wanted if wanted in self._speakers else self._voices[0].id
        self._voice = voice

    async def voices(self) -> list[VoiceInfo]:
        return list(self._voices)

    async def synthesize(
        self, text: str, voice: str, *, speed: float = 1.0, language: str | None = None
    ) -> AsyncIterator[AudioChunk]:
        if self._voice is None:
            raise RuntimeError("piper backend is not loaded")
        from piper import SynthesisConfig

        clean = sanitize_text(text)
        wanted = voice or self._default_voice
        if wanted.lower() == self._model_file.lower().removesuffix(".onnx"):
            wanted = self._default_voice  # the file stem names the (single) voice too
        lang = language or (guess_language(clean) if is_openai_voice(wanted) else None)
        info = resolve_voice(
            wanted, self._voices, engine=self.engine, language=lang, overrides=self._voice_map
        )
        syn = SynthesisConfig(
            speaker_id=self._speakers[info.id] if len(self._speakers) > 1 else None,
            # length_scale is duration: slower speech = larger scale.
            length_scale=self._length_scale / clamp_speed(speed, _MIN_SPEED, _MAX_SPEED),
            noise_scale=self._noise.get("noise_scale"),
            noise_w_scale=self._noise.get("noise_w"),
        )
        piper_voice = self._voice

        def render(piece: str) -> bytes:
            # Piper splits into sentences itself too; a piece normally yields a single chunk.
            with self._lock:
                return b"".join(
                    float_to_pcm16(c.audio_float_array) for c in piper_voice.synthesize(piece, syn)
                )

        async for chunk in stream_pieces(
            split_sentences(clean), render, self._rate, pause_seconds=self._pause
        ):
            yield chunk

    async def unload(self) -> None:
        self._voice = None

    async def health(self) -> HealthStatus:
        if self._voice is None:
            return HealthStatus(status="not_loaded")
        return HealthStatus(details={"model_file": self._model_file})
