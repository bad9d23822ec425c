"""The audio formats of OpenAI's Realtime API: PCM16 at 24 kHz, and G.711 μ-law / A-law at 8 kHz.

G.711 is a fixed table per byte (ITU-T G.711): decoding looks the byte up (bit-exact with ``audioop``),
encoding picks the code of the nearest table value; no deprecated ``audioop`` needed.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import numpy as np

from theo_rtc.errors import InvalidRequestError

__all__ = ["FORMATS", "PCM16", "AudioFormat", "decode_base64", "parse_format", "unknown_parameter"]


def _ulaw_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign, exponent, mantissa = codes & 0x80, (codes >> 4) & 0x07, codes & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def _alaw_table() -> np.ndarray:
    codes = np.arange(256, dtype=np.int32) ^ 0x55
    sign, exponent, mantissa = codes & 0x80, (codes >> 4) & 0x07, codes & 0x0F
    magnitude = np.where(
        exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
    )
    return np.where(sign != 0, magnitude, -magnitude).astype(np.int16)


@dataclass(frozen=True)
class AudioFormat:
    """One wire format: its GA ``type``, beta name, sample rate and G.711 table (``None``: PCM16)."""

    type: str
    beta: str
    rate: int
    table: np.ndarray | None = None

    def to_pcm16(self, data: bytes) -> bytes:
        if self.table is None:
            if len(data) % 2:
                raise InvalidRequestError(
                    "pcm16 audio must hold an even number of bytes (16-bit little-endian samples)",
                    param="audio",
                    code="invalid_audio",
                )
            return data
        return self.table[np.frombuffer(data, np.uint8)].astype("<i2").tobytes()

    def from_pcm16(self, data: bytes) -> bytes:
        if self.table is None:
            return data
        samples = np.frombuffer(data, "<i2").astype(np.int32)
        order = np.argsort(self.table, kind="stable")
        ranked = self.table[order].astype(np.int32)
        index = np.clip(np.searchsorted(ranked, samples), 1, 255)
        nearer = np.where(samples - ranked[index - 1] < ranked[index] - samples, index - 1, index)
        return order[nearer].astype(np.uint8).tobytes()

    def wire(self) -> dict[str, object]:
        return {"type": self.type, "rate": self.rate} if self.table is None else {"type": self.type}


PCM16 = AudioFormat("audio/pcm", "pcm16", 24_000)
FORMATS = {
    f.type: f
    for f in (
        PCM16,
        AudioFormat("audio/pcmu", "g711_ulaw", 8_000, _ulaw_table()),
        AudioFormat("audio/pcma", "g711_alaw", 8_000, _alaw_table()),
    )
}
BETA_FORMATS = {f.beta: f for f in FORMATS.values()}


def unknown_parameter(param: str) -> InvalidRequestError:
    """OpenAI's answer to a field it does not know."""
    return InvalidRequestError(f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")


def decode_base64(value: object, param: str = "audio") -> bytes:
    if not isinstance(value, str):
        raise InvalidRequestError(f"'{param}' must be a base64 string", param=param)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequestError(
            f"'{param}' is not valid base64", param=param, code="invalid_audio"
        ) from exc


def parse_format(value: object, param: str) -> AudioFormat:
    """A GA format object (``{"type": "audio/pcm", "rate": 24000}``) or a beta name (``"g711_ulaw"``)."""
    if isinstance(value, str) and value in BETA_FORMATS:
        return BETA_FORMATS[value]
    if isinstance(value, dict) and value.get("type") in FORMATS:
        fmt = FORMATS[str(value["type"])]
        unknown = set(value) - {"type", "rate"}
        if unknown:
            raise unknown_parameter(f"{param}.{sorted(unknown)[0]}")
        if "rate" in value and value["rate"] != fmt.rate:
            raise InvalidRequestError(
                f"{fmt.type} audio is {fmt.rate} Hz; got rate {str(value['rate'])[:20]}",
                param=f"{param}.rate",
                code="invalid_value",
            )
        return fmt
    shown = str(value.get("type") if isinstance(value, dict) else value)[:40]
    raise InvalidRequestError(
        f"unsupported audio format {shown!r}: use audio/pcm (24 kHz), audio/pcmu or audio/pcma "
        "(beta: pcm16, g711_ulaw, g711_alaw)",
        param=param,
        code="invalid_value",
    )
