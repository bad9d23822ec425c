"""The assistant's audio as ``response.output_audio.delta`` events: base64 in the session's output format.

Playout is the client's business in OpenAI's protocol (it reports what was heard with
``conversation.item.truncate``), so an utterance counts as played once it is all sent, and the speaker is
free as soon as synthesis ends, as OpenAI's server is.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import soxr

from theo_rtc.transports.protocol.openai_conversation.codec import AudioFormat
from theo_rtc.transports.sink import AudioSink

if TYPE_CHECKING:
    from theo_rtc.transports.protocol.openai_conversation.responses import Responses

__all__ = ["OpenAIAudioSink"]

MAX_DELTA_S = 0.5  # long synthesized chunks go out as several deltas


class OpenAIAudioSink(AudioSink):
    estimated = True

    def __init__(
        self,
        output_format: Callable[[], AudioFormat],
        responses: Responses,
        count_audio: Callable[[str, int], None],
        send: Callable[[dict[str, Any]], None],
    ) -> None:
        super().__init__()
        self._format = output_format
        self._responses = responses
        self._count = count_audio
        self._send = send

    async def _write(self, pcm16: bytes, sample_rate: int) -> None:
        target = self._responses.audio_target
        if target is None:
            return  # nothing to attach it to (a response that is ending)
        fmt = self._format()
        if sample_rate != fmt.rate:  # the engine was asked for fmt.rate; a chunk at another is resampled
            samples = np.frombuffer(pcm16, "<i2").astype(np.float32) / 32768
            resampled = soxr.resample(samples, sample_rate, fmt.rate)
            pcm16 = (np.clip(resampled, -1, 1) * 32767).astype("<i2").tobytes()
        step = int(fmt.rate * MAX_DELTA_S) * 2
        for i in range(0, len(pcm16), step):
            chunk = pcm16[i : i + step]
            self._count(target["item_id"], round(len(chunk) / 2 / fmt.rate * 1000))
            delta = base64.b64encode(fmt.from_pcm16(chunk)).decode()
            self._send({"type": "response.output_audio.delta", **target, "delta": delta})

    def _on_flush(self) -> None:
        self._playout_done()

    def _drop_queued(self) -> None:
        pass

    def _played_s(self) -> float:
        return self._captured_s
