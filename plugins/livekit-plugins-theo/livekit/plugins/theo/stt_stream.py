"""``theo.STT.stream()``: one ``WS /v1/realtime`` session in Theo's protocol per livekit ``RecognizeStream``.

Binary frames are PCM16 mono at the session's ``sample_rate`` (declared in the URL); Theo's own VAD segments
the audio, LocalAgreement-2 partials become ``INTERIM_TRANSCRIPT`` and each committed utterance a
``FINAL_TRANSCRIPT``. ``flush()`` commits the utterance in progress; ``end_input()`` sends ``session.close``
(the utterance in progress still becomes a final) and the stream ends at ``session.closed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import numpy as np
from livekit import rtc
from livekit.agents import (
    APIConnectionError,
    APIConnectOptions,
    stt,
    utils,
)
from livekit.agents.language import LanguageCode
from livekit.agents.types import NOT_GIVEN, NotGivenOr, TimedString
from livekit.agents.utils import is_given

from ._api import HTTPSessionOwner, event_error, headers, map_errors, retrieve_exception, ws_url
from .log import logger
from .models import STT_FRAME_MS, STTOptions

if TYPE_CHECKING:
    from .stt import STT

# Theo sends vad.speech_end before the utterance's final (the decode runs after the silence that ends the
# turn). livekit's STT-driven turn detection reads the transcript at END_OF_SPEECH, so END_OF_SPEECH is
# held until that segment's final (or its discard) arrives, at most this long (a final normally follows
# within 1-2 s; a decode that falls back to higher temperatures can take several).
_EOS_HOLD_S = 10.0
_HEARTBEAT_S = 20.0


class SpeechStream(stt.RecognizeStream):
    _held_eos: tuple[int, stt.SpeechEvent, float] | None
    """END_OF_SPEECH waiting for its segment's final: (segment id, event, release deadline)."""

    def __init__(
        self, *, stt: STT, opts: STTOptions, conn_options: APIConnectOptions, http: HTTPSessionOwner
    ) -> None:
        super().__init__(stt=stt, conn_options=conn_options, sample_rate=opts.sample_rate)
        self._opts = opts
        self._http = http
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._session_id = ""
        self._language = LanguageCode(opts.language or "")
        self._speaking = False
        self._segment_id = 0  # the segment VAD last opened
        self._last_done_segment = 0  # the last segment whose final (or discard) arrived
        self._held_eos = None
        self._unreported_audio_s = 0.0

    def update_options(
        self,
        *,
        model: NotGivenOr[str] = NOT_GIVEN,
        language: NotGivenOr[str] = NOT_GIVEN,
        hot_words: NotGivenOr[list[str]] = NOT_GIVEN,
    ) -> None:
        self._opts = self._opts.replace(model=model, language=language, hot_words=hot_words)
        changes: dict[str, Any] = {}
        if is_given(model):
            changes["model"] = self._opts.model
        if is_given(language):
            changes["language"] = self._opts.language
        if is_given(hot_words):
            changes["hot_words"] = self._opts.hot_words
        ws = self._ws
        if changes and ws is not None and not ws.closed:
            task = asyncio.ensure_future(ws.send_str(json.dumps({"type": "session.configure", **changes})))
            task.add_done_callback(retrieve_exception)

    async def _connect(self) -> aiohttp.ClientWebSocketResponse:
        opts = self._opts
        url = ws_url(
            opts.base_url,
            "/v1/realtime",
            {"model": opts.model, "sample_rate": opts.sample_rate, "language": opts.language},
        )
        timeout = self._conn_options.timeout
        with map_errors("theo realtime connect"):
            ws = await asyncio.wait_for(
                self._http.get().ws_connect(url, headers=headers(opts.api_key), heartbeat=_HEARTBEAT_S),
                timeout,
            )
            try:
                # The first message is session.created, or an error followed by a close (unknown model: 1008).
                msg = await ws.receive(timeout=timeout)
                if msg.type != aiohttp.WSMsgType.TEXT:
                    raise APIConnectionError(
                        f"theo realtime: connection closed before session.created ({msg})"
                    )
                event = json.loads(msg.data)
                if event.get("type") == "error":
                    raise event_error(event)
                if event.get("type") != "session.created":
                    raise APIConnectionError(
                        f"theo realtime: expected session.created, got {event.get('type')}"
                    )
                self._session_id = event.get("session_id", "")
                if opts.hot_words:
                    await ws.send_str(json.dumps({"type": "session.configure", "hot_words": opts.hot_words}))
            except BaseException:
                await ws.close()
                raise
        return ws

    async def _run(self) -> None:
        # A retry is a new Theo session: segment ids start over, and a turn cut by the reconnect is ended.
        self._release_eos()
        if self._speaking:
            self._speaking = False
            self._send(self._speech_event(stt.SpeechEventType.END_OF_SPEECH))
        self._segment_id = self._last_done_segment = 0
        ws = await self._connect()
        self._ws = ws
        closing = False
        first_audio = True

        async def send_task() -> None:
            nonlocal closing
            rate = self._opts.sample_rate
            chunker = utils.audio.AudioByteStream(
                sample_rate=rate, num_channels=1, samples_per_channel=rate * STT_FRAME_MS // 1000
            )

            async def send(frames: list[rtc.AudioFrame]) -> None:
                nonlocal first_audio
                for f in frames:
                    if first_audio:
                        first_audio = False
                        self.start_time = time.time()  # Theo's timestamps count from this connection's audio
                    self._unreported_audio_s += f.duration
                    await ws.send_bytes(f.data.tobytes())

            async for data in self._input_ch:
                if isinstance(data, self._FlushSentinel):
                    await send(chunker.flush())
                    await ws.send_str(json.dumps({"type": "input_audio_buffer.commit"}))
                else:
                    await send(chunker.push(_mono_pcm16(data)))
            await send(chunker.flush())
            closing = True
            await ws.send_str(json.dumps({"type": "session.close"}))

        async def recv_task() -> None:
            last_error: dict[str, Any] | None = None
            while True:
                timeout = None
                if self._held_eos is not None:
                    timeout = max(0.001, self._held_eos[2] - time.monotonic())  # 0 would mean "none"
                try:
                    msg = await ws.receive(timeout=timeout)
                except TimeoutError:
                    self._release_eos()
                    continue
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                    if last_error is not None:
                        raise event_error(last_error)
                    raise APIConnectionError(f"theo realtime closed the connection (code {ws.close_code})")
                if msg.type == aiohttp.WSMsgType.ERROR:
                    raise APIConnectionError(f"theo realtime: {ws.exception()}")
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue  # binary from the server is TTS audio; this stream never asks for it
                event = json.loads(msg.data)
                kind = event.get("type")
                logger.debug("theo realtime event", extra={"event": event})
                if kind == "session.closed":
                    self._release_eos()
                    self._report_usage()
                    if closing:
                        return
                    # Theo closed an idle session (no audio / hold timeout): reconnect through the retry loop.
                    raise APIConnectionError(f"theo closed the session: {event.get('reason')}")
                if kind == "error":
                    if event.get("recoverable"):
                        logger.warning("theo realtime (recovered): %s", event.get("message"))
                    else:
                        last_error = event
                        logger.error("theo realtime error %s: %s", event.get("code"), event.get("message"))
                    continue
                self._on_event(event)

        tasks = [
            asyncio.create_task(send_task(), name="theo.SpeechStream.send"),
            asyncio.create_task(recv_task(), name="theo.SpeechStream.recv"),
        ]
        for task in tasks:
            task.add_done_callback(retrieve_exception)
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # a failed task raises here
            await asyncio.gather(*tasks)
        except (aiohttp.ClientError, OSError) as exc:
            raise APIConnectionError(f"theo realtime: {exc}") from exc
        finally:
            await utils.aio.cancel_and_wait(*tasks)
            self._ws = None
            if not ws.closed:
                if not closing:
                    with contextlib.suppress(Exception):
                        await ws.send_str(json.dumps({"type": "session.cancel"}))
                await ws.close()

    # --- Theo events -> livekit SpeechEvents ---------------------------------------------------------------

    def _send(self, event: stt.SpeechEvent) -> None:
        self._event_ch.send_nowait(event)

    def _speech_event(self, kind: stt.SpeechEventType, **fields: Any) -> stt.SpeechEvent:
        return stt.SpeechEvent(type=kind, request_id=self._session_id, **fields)

    def _start_of_speech(self, timestamp_ms: float | None) -> None:
        self._release_eos()
        if self._speaking:
            return
        self._speaking = True
        start = self.start_time + timestamp_ms / 1000 if timestamp_ms is not None else None
        self._send(self._speech_event(stt.SpeechEventType.START_OF_SPEECH, speech_start_time=start))

    def _release_eos(self, up_to_segment: int | None = None) -> None:
        if self._held_eos is None:
            return
        segment, event, _ = self._held_eos
        if up_to_segment is None or segment <= up_to_segment:
            self._held_eos = None
            self._send(event)

    def _report_usage(self) -> None:
        if self._unreported_audio_s > 0:
            usage = stt.RecognitionUsage(audio_duration=self._unreported_audio_s)
            self._unreported_audio_s = 0.0
            self._send(self._speech_event(stt.SpeechEventType.RECOGNITION_USAGE, recognition_usage=usage))

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        offset = self.start_time_offset
        if kind == "vad.speech_start":
            self._segment_id = int(event.get("segment_id") or self._segment_id + 1)
            self._start_of_speech(event.get("timestamp_ms"))
        elif kind == "transcript.partial":
            text = " ".join(t for t in (event.get("text", ""), event.get("unconfirmed", "")) if t).strip()
            if not text:
                return
            self._start_of_speech(None)
            self._send(
                self._speech_event(
                    stt.SpeechEventType.INTERIM_TRANSCRIPT,
                    alternatives=[stt.SpeechData(language=self._language, text=text)],
                )
            )
        elif kind == "transcript.final":
            segment = int(event.get("segment_id") or 0)
            self._language = LanguageCode(event.get("language") or self._language)
            start_s = event.get("start_ms", 0) / 1000 + offset
            end_s = event.get("end_ms", 0) / 1000 + offset
            words = [
                TimedString(
                    w["word"],
                    start_time=w["start_ms"] / 1000 + offset,
                    end_time=w["end_ms"] / 1000 + offset,
                    confidence=w.get("probability", NOT_GIVEN),
                    start_time_offset=offset,
                )
                for w in event.get("words") or []
            ]
            self._send(
                self._speech_event(
                    stt.SpeechEventType.FINAL_TRANSCRIPT,
                    alternatives=[
                        stt.SpeechData(
                            language=self._language,
                            text=event.get("text", ""),
                            start_time=start_s,
                            end_time=end_s,
                            confidence=float(event.get("confidence") or 0.0),
                            words=words or None,
                        )
                    ],
                    speech_end_time=self.start_time + event.get("end_ms", 0) / 1000,
                )
            )
            self._report_usage()
            self._last_done_segment = max(self._last_done_segment, segment)
            self._release_eos(up_to_segment=segment)
        elif kind == "transcript.discarded":
            segment = int(event.get("segment_id") or 0)
            self._last_done_segment = max(self._last_done_segment, segment)
            self._release_eos(up_to_segment=segment)
        elif kind == "vad.speech_end":
            if not self._speaking:
                return
            self._speaking = False
            segment = int(event.get("segment_id") or self._segment_id)
            end = self.start_time + event.get("timestamp_ms", 0) / 1000
            eos = self._speech_event(stt.SpeechEventType.END_OF_SPEECH, speech_end_time=end)
            if segment <= self._last_done_segment:
                self._send(eos)  # already final (flushed mid-utterance)
            else:
                self._held_eos = (segment, eos, time.monotonic() + _EOS_HOLD_S)


def _mono_pcm16(frame: rtc.AudioFrame) -> bytes:
    if frame.num_channels == 1:
        return frame.data.tobytes()
    samples = np.frombuffer(frame.data, dtype=np.int16).reshape(-1, frame.num_channels)
    return samples.mean(axis=1).astype(np.int16).tobytes()


__all__ = ["SpeechStream"]
