"""Streaming audio encoders for ``/v1/audio/speech``: feed PCM16 chunks, get bytes to send right away.

Formats follow OpenAI's ``response_format``: mp3, opus (Ogg), aac (ADTS), flac, wav, pcm. All but
wav/pcm use PyAV (FFmpeg). Encoders never seek back into bytes already handed out, so the output
can go straight into a chunked HTTP response.

Known, format-inherent deviations in decoded duration (streams cannot be patched at the end):
- mp3: the LAME header carries the encoder delay (decoders skip it) but not the end padding, so
  decoders return 20-46 ms of trailing silence (mp3 output is therefore always 24 or 48 kHz).
- aac: ADTS has no way to signal encoder priming, so decoders return 1024 extra samples at the start
  plus up to one frame (1024 samples) of padding at the end.
- wav: the RIFF sizes are 0xFFFFFFFF ("unknown", streaming); readers take the data to end of file.
"""

from __future__ import annotations

import asyncio
import struct
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any, Literal, cast, get_args

import av
import numpy as np
import soxr
from av.audio.stream import AudioStream

from theo_rtc.backends.types import AudioChunk

ResponseFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]
RESPONSE_FORMATS: tuple[str, ...] = get_args(ResponseFormat)

CONTENT_TYPES: dict[str, str] = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg; codecs=opus",  # Ogg-encapsulated Opus (RFC 7845), as OpenAI returns it
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",  # raw signed 16-bit little-endian mono, no header
}

# Codec formats encode a chunk in slices this long, so the first bytes do not wait for a whole sentence.
ENCODE_SLICE_SECONDS = 0.25

# OpenAI documents pcm as 24 kHz; clients that play it raw cannot know any other rate.
PCM_SAMPLE_RATE = 24_000

# container format, codec, bit rate (None: lossless), sample rates the codec accepts (None: any)
_CODECS: dict[str, tuple[str, str, int | None, tuple[int, ...] | None]] = {
    # mp3 is kept at 24/48 kHz: its undecodable end padding is then always < 50 ms (at 22.05 kHz
    # it can reach 53 ms), and 24 kHz is what OpenAI returns anyway.
    "mp3": ("mp3", "libmp3lame", 64_000, (24000, 48000)),
    "opus": ("ogg", "libopus", 32_000, (8000, 12000, 16000, 24000, 48000)),
    "aac": ("adts", "aac", 64_000, None),
    "flac": ("flac", "flac", None, None),
}


def content_type(fmt: str) -> str:
    try:
        return CONTENT_TYPES[fmt]
    except KeyError:
        raise ValueError(
            f"unsupported response_format {fmt!r}; use one of {', '.join(RESPONSE_FORMATS)}"
        ) from None


class _Resampler:
    """Streaming int16 mono resampler (soxr keeps filter state between chunks)."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self._stream = soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16", quality="HQ")

    def __call__(self, samples: np.ndarray, last: bool = False) -> np.ndarray:
        out: np.ndarray = self._stream.resample_chunk(samples, last=last)
        return out


class AudioEncoder(ABC):
    """Encode a PCM16 mono stream incrementally.

    ``encode(pcm16)`` returns whatever bytes are ready (possibly ``b""``); ``finish()`` flushes the
    codec and returns the rest. Not thread-safe; one instance per response.
    """

    format: str

    def __init__(self, input_rate: int, output_rate: int | None = None) -> None:
        self.input_rate = input_rate
        self.output_rate = output_rate or input_rate
        self._resampler = _Resampler(input_rate, self.output_rate) if self.output_rate != input_rate else None
        self._finished = False

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    def _convert(self, pcm16: bytes, last: bool = False) -> np.ndarray:
        if len(pcm16) % 2:
            raise ValueError("PCM16 chunk has an odd number of bytes")
        samples = np.frombuffer(pcm16, dtype="<i2").astype(np.int16, copy=False)
        if self._resampler is not None:
            samples = self._resampler(samples, last=last)
        return samples

    def encode(self, pcm16: bytes) -> bytes:
        if self._finished:
            raise RuntimeError("encoder already finished")
        if not pcm16:
            return b""
        return self._encode_samples(self._convert(pcm16))

    def finish(self) -> bytes:
        if self._finished:
            return b""
        self._finished = True
        tail = b""
        if self._resampler is not None:
            rest = self._resampler(np.zeros(0, dtype=np.int16), last=True)
            if rest.size:
                tail = self._encode_samples(rest)
        return tail + self._finish()

    @abstractmethod
    def _encode_samples(self, samples: np.ndarray) -> bytes: ...

    @abstractmethod
    def _finish(self) -> bytes: ...


class PcmEncoder(AudioEncoder):
    format = "pcm"

    def _encode_samples(self, samples: np.ndarray) -> bytes:
        return samples.astype("<i2", copy=False).tobytes()

    def _finish(self) -> bytes:
        return b""


class WavEncoder(PcmEncoder):
    """PCM16 WAV whose header goes out first, before the length is known."""

    format = "wav"

    def __init__(self, input_rate: int, output_rate: int | None = None) -> None:
        super().__init__(input_rate, output_rate)
        self._header_sent = False

    def _header(self) -> bytes:
        rate = self.output_rate
        unknown = 0xFFFFFFFF  # streaming: size not known yet (FFmpeg, browsers, sox read to EOF)
        fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
        return (
            b"RIFF"
            + struct.pack("<I", unknown)
            + b"WAVEfmt "
            + struct.pack("<I", 16)
            + fmt
            + (b"data" + struct.pack("<I", unknown))
        )

    def _with_header(self, data: bytes) -> bytes:
        if self._header_sent:
            return data
        self._header_sent = True
        return self._header() + data

    def _encode_samples(self, samples: np.ndarray) -> bytes:
        return self._with_header(super()._encode_samples(samples))

    def _finish(self) -> bytes:
        return self._with_header(b"")  # an empty input still yields a valid (empty) file


class _Sink:
    """Write target for the muxer that hands out bytes as soon as they are written.

    It claims to be seekable so the mp3 muxer writes its LAME/Xing header (which tells decoders
    the encoder delay); rewrites of bytes already handed out at the end are dropped, leaving the
    streamed header's "unknown length" values in place.
    """

    def __init__(self, seekable: bool) -> None:
        self._seekable = seekable
        self._pending = bytearray()
        self._emitted = 0  # bytes handed out so far
        self._pos = 0

    def seekable(self) -> bool:
        return self._seekable

    def write(self, data: bytes | memoryview) -> int:
        data = bytes(data)
        end = self._emitted + len(self._pending)
        if self._pos == end:
            self._pending += data
        elif self._pos > end:
            self._pending += bytes(self._pos - end) + data
        else:
            # Overwrite inside the still-pending part; the part already emitted cannot change.
            start = self._pos - self._emitted
            if start >= 0:
                self._pending[start : start + len(data)] = data
            elif start + len(data) > 0:
                self._pending[0 : start + len(data)] = data[-start:]
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            self._pos = offset
        elif whence == 1:
            self._pos += offset
        else:
            self._pos = self._emitted + len(self._pending) + offset
        return self._pos

    def take(self) -> bytes:
        out = bytes(self._pending)
        self._emitted += len(out)
        self._pending.clear()
        return out


class _PyAVEncoder(AudioEncoder):
    def __init__(
        self, fmt: str, input_rate: int, output_rate: int | None = None, bit_rate: int | None = None
    ):
        container_fmt, codec, default_bit_rate, rates = _CODECS[fmt]
        rate = output_rate or input_rate
        if rates is not None and rate not in rates:
            # Resample up to the nearest rate the codec supports (e.g. Piper's 22.05 kHz -> 24 kHz Opus).
            rate = min((r for r in rates if r >= rate), default=max(rates))
        super().__init__(input_rate, rate)
        self.format = fmt
        self._sink = _Sink(seekable=fmt == "mp3")
        options: dict[str, str] = {}
        if fmt == "opus":
            options["page_duration"] = "20000"  # µs: emit an Ogg page per Opus packet, not per second
        self._container: Any = av.open(self._sink, mode="w", format=container_fmt, options=options)
        self._stream = cast(AudioStream, self._container.add_stream(codec, rate=self.output_rate))
        self._stream.layout = "mono"
        if default_bit_rate is not None:
            self._stream.bit_rate = bit_rate or default_bit_rate
        self._pts = 0

    def _encode_samples(self, samples: np.ndarray) -> bytes:
        if samples.size == 0:
            return b""
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = self.output_rate
        frame.pts = self._pts
        self._pts += samples.size
        # PyAV converts to the codec's sample format and re-frames to its frame size internally.
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        return self._sink.take()

    def _finish(self) -> bytes:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        return self._sink.take()


def create_encoder(
    fmt: str, input_rate: int, *, output_rate: int | None = None, bit_rate: int | None = None
) -> AudioEncoder:
    """An encoder for OpenAI ``response_format`` ``fmt`` fed with PCM16 at ``input_rate``.

    ``output_rate`` defaults to the input rate, except pcm (24 kHz, as OpenAI documents) and
    codecs that need specific rates (opus).
    """
    if fmt == "pcm":
        return PcmEncoder(input_rate, output_rate or PCM_SAMPLE_RATE)
    if fmt == "wav":
        return WavEncoder(input_rate, output_rate)
    if fmt in _CODECS:
        return _PyAVEncoder(fmt, input_rate, output_rate, bit_rate)
    content_type(fmt)  # raises the standard error
    raise AssertionError("unreachable")


def encode_all(fmt: str, chunks: Iterable[AudioChunk], **kwargs: Any) -> bytes:
    """Encode a whole (synchronous) chunk sequence; convenience for tests and small responses."""
    encoder: AudioEncoder | None = None
    out = bytearray()
    for chunk in chunks:
        if encoder is None:
            encoder = create_encoder(fmt, chunk.sample_rate, **kwargs)
        out += encoder.encode(chunk.pcm16)
    if encoder is None:
        encoder = create_encoder(fmt, kwargs.pop("output_rate", None) or PCM_SAMPLE_RATE, **kwargs)
    out += encoder.finish()
    return bytes(out)


async def encode_stream(
    fmt: str,
    chunks: AsyncIterable[AudioChunk],
    *,
    output_rate: int | None = None,
    offload: bool = True,
) -> AsyncIterator[bytes]:
    """Encode a TTS chunk stream for a streaming HTTP body; yields only non-empty byte strings.

    The encoder is created from the first chunk's sample rate. An empty stream still yields a
    valid (empty) file for container formats. With ``offload`` the codecs run in a worker thread:
    mp3/opus cost ~8 ms per second of audio, which would stall every other request and realtime
    session on the event loop (wav/pcm are plain copies and stay inline).
    """
    encoder: AudioEncoder | None = None
    codec = fmt in _CODECS
    async for chunk in chunks:
        if encoder is None:
            encoder = create_encoder(fmt, chunk.sample_rate, output_rate=output_rate)
        if not codec:
            if data := encoder.encode(chunk.pcm16):
                yield data
            continue
        # A chunk is a whole sentence: encoding it in one go would hold its first bytes back for
        # ~15 ms (2 s of mp3). Slices go out as soon as each is encoded.
        step = 2 * round(chunk.sample_rate * ENCODE_SLICE_SECONDS)
        for start in range(0, len(chunk.pcm16), step):
            piece = chunk.pcm16[start : start + step]
            data = await asyncio.to_thread(encoder.encode, piece) if offload else encoder.encode(piece)
            if data:
                yield data
    if encoder is None:
        encoder = create_encoder(fmt, output_rate or PCM_SAMPLE_RATE)
    tail = await asyncio.to_thread(encoder.finish) if offload and codec else encoder.finish()
    if tail:
        yield tail
