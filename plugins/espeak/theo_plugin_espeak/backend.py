"""espeak-ng TTS through the ``espeak-ng`` binary: robotic but instant, ~130 languages, no model files.

It is the engine the server can always speak with (``load(None, ...)``). The binary is a separate
program run per sentence, so its GPL-3.0 license does not extend to this plugin.

Voice ids are espeak-ng language voices (``en-us``, ``pt-br``) optionally with a variant
(``pt-br+f3``). engine_config keys (all optional): ``binary`` (default ``espeak-ng``),
``words_per_minute`` at speed 1.0 (default 175), ``pitch`` (0-99), ``voice_map``, ``default_voice``
(default ``en-us``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from theo_rtc.backends.tts import TTSBackend
from theo_rtc.backends.types import AudioChunk, HealthStatus, VoiceInfo
from theo_rtc.tts.text import guess_language, sanitize_text, split_sentences
from theo_rtc.tts.voices import is_openai_voice, resolve_voice

log = logging.getLogger(__name__)

SAMPLE_RATE = 22_050  # what espeak-ng writes with --stdout; checked against the WAV header
_VOICE_ID = re.compile(r"^[A-Za-z0-9_-]+(?:\+[A-Za-z0-9_-]+)?$")
_TIMEOUT = 30.0  # seconds per sentence; espeak-ng runs at >50x real time, so only a hang hits it


def _parse_voice_list(output: str) -> list[tuple[str, str, str, str]]:
    """Rows of ``espeak-ng --voices``: (language, gender letter, name, file)."""
    rows: list[tuple[str, str, str, str]] = []
    for line in output.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 5:
            continue
        _, language, age_gender, name, file = parts[:5]
        rows.append((language, age_gender.rsplit("/", 1)[-1], name.replace("_", " "), file))
    return rows


def _wav_pcm(data: bytes) -> tuple[bytes, int]:
    """PCM payload and sample rate of the streaming WAV espeak-ng writes (its sizes are bogus)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise RuntimeError("espeak-ng did not produce WAV output")
    pos, rate = 12, SAMPLE_RATE
    while pos + 8 <= len(data):
        tag, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        if tag == b"fmt ":
            rate = int.from_bytes(data[pos + 12 : pos + 16], "little")
        elif tag == b"data":
            pcm = data[pos + 8 :]
            return pcm[: len(pcm) // 2 * 2], rate
        pos += 8 + size
    return b"", rate


class EspeakBackend(TTSBackend):
    engine = "espeak-ng"

    def __init__(self) -> None:
        self._binary = ""
        self._voices: list[VoiceInfo] = []
        self._variants: set[str] = set()
        self._wpm = 175
        self._pitch: int | None = None
        self._voice_map: dict[str, str] = {}
        self._default_voice = "en-us"

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    async def _run(self, *args: str, stdin: bytes | None = None) -> bytes:
        proc = await asyncio.create_subprocess_exec(
            self._binary,
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), _TIMEOUT)
        except BaseException:
            # Timeout or the request was cancelled (client went away): do not leave it running.
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
        if proc.returncode != 0:
            raise RuntimeError(f"espeak-ng failed ({proc.returncode}): {err.decode(errors='replace')[:300]}")
        return out

    async def load(self, model_path: Path | None, config: Mapping[str, Any]) -> None:
        binary = shutil.which(str(config.get("binary", "espeak-ng")))
        if binary is None:
            raise FileNotFoundError("espeak-ng is not installed (apt-get install espeak-ng)")
        self._binary = binary
        self._wpm = int(config.get("words_per_minute", 175))
        self._pitch = int(config["pitch"]) if "pitch" in config else None
        self._voice_map = {str(k): str(v) for k, v in dict(config.get("voice_map") or {}).items()}

        voices_out = (await self._run("--voices")).decode("utf-8", errors="replace")
        gender = {"M": "male", "F": "female"}
        seen: set[str] = set()
        self._voices = []
        for language, sex, name, _ in _parse_voice_list(voices_out):
            if language not in seen:  # some languages appear twice (aliases)
                seen.add(language)
                self._voices.append(
                    VoiceInfo(id=language, name=name, language=language, gender=gender.get(sex, ""))
                )
        if not self._voices:
            raise RuntimeError("espeak-ng lists no voices (is espeak-ng-data installed?)")
        variants_out = (await self._run("--voices=variant")).decode("utf-8", errors="replace")
        self._variants = {file.rsplit("/", 1)[-1] for *_, file in _parse_voice_list(variants_out)}
        wanted = str(config.get("default_voice", "en-us"))
        self._default_voice = wanted if any(v.id == wanted for v in self._voices) else self._voices[0].id

    async def voices(self) -> list[VoiceInfo]:
        return list(self._voices)

    def _pick(self, voice: str, language: str | None, text: str) -> str:
        wanted = (voice or self._default_voice).strip()
        if "+" in wanted and _VOICE_ID.match(wanted):
            base, variant = wanted.split("+", 1)
            if variant in self._variants:
                info = resolve_voice(base, self._voices, engine=self.engine)
                return f"{info.id}+{variant}"
        lang = language or (guess_language(text) if is_openai_voice(wanted) else None)
        extra = [
            f"{v.id}+{variant}" for v in self._voices for variant in ("f3",) if variant in self._variants
        ]
        info = resolve_voice(
            wanted,
            self._voices,
            engine=self.engine,
            language=lang,
            overrides=self._voice_map,
            extra_ids=extra,
        )
        return info.id

    async def synthesize(
        self, text: str, voice: str, *, speed: float = 1.0, language: str | None = None
    ) -> AsyncIterator[AudioChunk]:
        if not self._binary:
            raise RuntimeError("espeak-ng backend is not loaded")
        clean = sanitize_text(text)
        voice_id = self._pick(voice, language, clean)
        speed = speed if speed > 0 else 1.0
        wpm = max(80, min(500, round(self._wpm * speed)))
        args = ["--stdout", "-b", "1", "-v", voice_id, "-s", str(wpm)]
        if self._pitch is not None:
            args += ["-p", str(self._pitch)]
        # One process per sentence keeps the first chunk quick (espeak-ng buffers its stdout) and lets
        # a disconnect stop the rest. Text goes through stdin (-b 1: UTF-8) so it is never an option.
        for piece in split_sentences(clean):
            data = await self._run(*args, stdin=piece.encode("utf-8"))
            pcm, rate = _wav_pcm(data)
            if rate != SAMPLE_RATE:
                log.warning("espeak-ng wrote %d Hz audio, expected %d", rate, SAMPLE_RATE)
            if pcm:
                yield AudioChunk(pcm16=pcm, sample_rate=rate)

    async def health(self) -> HealthStatus:
        if not self._binary:
            return HealthStatus(status="not_loaded")
        return HealthStatus(details={"binary": self._binary, "voices": str(len(self._voices))})
