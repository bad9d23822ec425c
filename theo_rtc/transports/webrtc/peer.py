"""One browser (or any WebRTC client) on one streaming session: the thin adapter between aiortc and the
transport-agnostic :class:`StreamingSession`.

    microphone Opus track ──aiortc/PyAV decode──▶ pump_microphone ──▶ session.push_audio
    data channel "oai-events" ◀──▶ TheoDialect.handle / translate (the WebSocket's Theo protocol)
    TTS (dialect.tts) ──output.send_audio──▶ PacedAudioTrack ──▶ browser
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from theo_rtc.errors import InvalidRequestError, TheoError
from theo_rtc.runtime import TheoRuntime
from theo_rtc.server.realtime.dialect import parse_event
from theo_rtc.server.realtime.endpoint import SessionRegistry
from theo_rtc.server.realtime.theo_protocol import TheoDialect
from theo_rtc.server.webrtc.ice import host_addresses, rtc_configuration, set_jitter_frames
from theo_rtc.server.webrtc.output import DataChannelOutput
from theo_rtc.server.webrtc.tracks import PacedAudioTrack, pump_microphone
from theo_rtc.session import SessionConfig, StreamingSession
from theo_rtc.session.duplex import DuplexSpeaker
from theo_rtc.session.state import Timeouts

log = logging.getLogger("theo.webrtc")

EVENTS_CHANNEL = "oai-events"  # OpenAI's Realtime WebRTC name, so their client code works unchanged
MAX_MESSAGE_CHARS = 256 * 1024
MAX_INBOX = 256  # client messages waiting to be handled before the peer is judged to be flooding
MAX_BUFFERED = 4 * 1024 * 1024  # bytes queued on the data channel for a peer that stopped reading
SESSION_CLOSE_LIMIT_S = 40  # the session's own flush budget is 2 s + 30 s for committed finals


class InvalidOfferError(InvalidRequestError):
    code = "invalid_sdp"


class WebRTCCall:
    """Create, :meth:`answer` the offer, then :meth:`start`; the call cleans itself up when the peer goes
    away (tab closed, ICE/DTLS failure or timeout), the session ends, or :meth:`hangup` is called."""

    def __init__(
        self,
        runtime: TheoRuntime,
        registry: SessionRegistry,
        config: SessionConfig,
        *,
        on_closed: Callable[[WebRTCCall], object] | None = None,
    ) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.registry = registry
        self.dialect = TheoDialect()
        self.track = PacedAudioTrack(settings.webrtc_send_buffer_ms)
        self.output = DataChannelOutput(
            self.dialect.translate, self.track, max_backlog=settings.ws_send_queue, max_buffered=MAX_BUFFERED
        )
        # The session's INIT timeout (30 s) fires when nobody has *spoken* yet, but a WebRTC microphone
        # sends audio all along and a silent peer is detected by ICE consent instead: an open tab where
        # nobody has spoken yet gets the same budget as one gone quiet (SILENCE -> HOLD -> CLOSING).
        defaults = Timeouts()
        timeouts = replace(defaults, init_s=defaults.silence_s + defaults.hold_s)
        self.session = StreamingSession(runtime, self.output, config, timeouts=timeouts)
        self.id = "rtc_" + self.session.id.removeprefix("sess_")
        self.pc = RTCPeerConnection(rtc_configuration(settings))
        self._on_closed = on_closed
        self._inbox: asyncio.Queue[str | bytes] = asyncio.Queue()
        self._connected = asyncio.Event()
        self._ended = asyncio.Event()
        self._closed = asyncio.Event()
        self.end_reason = "disconnected"
        self._task: asyncio.Task[None] | None = None
        self._mic: MediaStreamTrack | None = None
        self._opened = False
        self.created_at = time.monotonic()
        self.pc.on("connectionstatechange", self._on_connection_state)
        self.pc.on("datachannel", self._on_datachannel)

    # --- signaling ------------------------------------------------------------------------------------------

    def reserve(self) -> None:
        """Count the call against ``max_sessions`` from the start, so a burst of offers cannot overshoot
        it while answers are being made; fails fast on an unknown model."""
        self.registry.sessions[self.session.id] = self.session
        self.runtime.store.get(self.session.config.model)

    async def open(self) -> None:
        """Start the session, once the offer is known to be good: starting and at once cancelling a
        session can hang in the engine stream's setup, so a bad offer never starts one."""
        await self.session.start()
        self._opened = True
        self.dialect.tts = DuplexSpeaker(self.runtime, self.output)  # its audio goes to the paced track

    async def answer(self, offer_sdp: str) -> str:
        """Apply the browser's offer and return the answer SDP (with our ICE candidates in it)."""
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        except Exception as exc:  # aiortc's SDP parser raises anything from ValueError to IndexError
            raise InvalidOfferError(f"could not parse the SDP offer: {exc or type(exc).__name__}") from exc
        audio = [t for t in self.pc.getTransceivers() if t.kind == "audio"]
        if not audio:
            raise InvalidOfferError(
                "the offer has no audio m-line; add the microphone track before createOffer"
            )
        # _offerDirection is the offer's direction seen from our side: the browser sending = we receive
        receiving = [t for t in audio if t._offerDirection in ("sendrecv", "recvonly")]
        if not receiving:
            raise InvalidOfferError("the offer's audio is receive-only; the microphone must be sent")
        transceiver = receiving[0]
        self._mic = transceiver.receiver.track
        set_jitter_frames(transceiver.receiver, self.runtime.settings.webrtc_jitter_frames)
        transceiver.sender.replaceTrack(self.track)
        transceiver.direction = "sendrecv"
        answer = await self.pc.createAnswer()
        with host_addresses(self.runtime.settings.webrtc_ice_hosts):
            await self.pc.setLocalDescription(answer)  # gathers our host candidates into the SDP
        return str(self.pc.localDescription.sdp)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self.id}-call")

    async def hangup(self, reason: str = "hangup") -> None:
        self._end(reason)
        await self._closed.wait()

    async def abort(self) -> None:
        """Free everything for a call that never started (bad offer, full server)."""
        if self._opened and not self.session.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.session.cancel(), SESSION_CLOSE_LIMIT_S)
        await self._release()

    # --- lifecycle ------------------------------------------------------------------------------------------

    def _end(self, reason: str) -> None:
        if not self._ended.is_set():
            self.end_reason = reason
            self._ended.set()

    def _on_connection_state(self) -> None:
        state = self.pc.connectionState
        log.debug("%s: connection %s", self.id, state)
        if state == "connected":
            self._connected.set()
        elif state in ("failed", "closed"):
            self._end(f"connection {state}")

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label != EVENTS_CHANNEL:
            log.info(
                "%s: ignoring data channel %r (events travel on %r)", self.id, channel.label, EVENTS_CHANNEL
            )
            return
        self.output.attach(channel)
        channel.on("message", self._on_message)
        channel.on("close", lambda: self._end("data channel closed"))

    def _on_message(self, message: str | bytes) -> None:
        if self._inbox.qsize() >= MAX_INBOX:
            self.output.send_raw(
                self.dialect.error("rate_limited", "too many messages waiting; the call is closed")
            )
            self._end("client flooded the data channel")
            return
        self._inbox.put_nowait(message)

    async def _run(self) -> None:
        timeout = self.runtime.settings.webrtc_connect_timeout_s
        tasks: list[asyncio.Task[Any]] = []
        try:
            ended = asyncio.create_task(self._ended.wait())
            connected = asyncio.create_task(self._connected.wait())
            tasks += [ended, connected]
            await asyncio.wait({ended, connected}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if not self._connected.is_set():
                if not self._ended.is_set():
                    log.warning(
                        "%s: ICE/DTLS did not complete within %.0f s; freeing the call", self.id, timeout
                    )
                    self._end("connect timeout")
                return
            log.info(
                "%s: connected (session %s, model %s)", self.id, self.session.id, self.session.config.model
            )
            assert self._mic is not None
            tasks += [
                asyncio.create_task(pump_microphone(self._mic, self.session), name=f"{self.id}-mic"),
                asyncio.create_task(self._consume(), name=f"{self.id}-events"),
                asyncio.create_task(self.session.wait_closed()),
                asyncio.create_task(self.output.overflowed.wait()),
            ]
            await asyncio.wait(tasks[:1] + tasks[2:], return_when=asyncio.FIRST_COMPLETED)
            if self.output.overflowed.is_set():
                self._end("peer not reading")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.session.cancel(), SESSION_CLOSE_LIMIT_S)
            elif self.session.closed:
                self._end("session closed")
            elif tasks[2].done():
                self._end("microphone track ended")
        except Exception:
            log.exception("%s: call failed", self.id)
        finally:
            if self.session.closed:
                # The session is shutting down (possibly inside the events task, for session.close):
                # let it finish and hand over session.closed before anything is cancelled.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.output.finished.wait(), 5.0)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._release()

    async def _release(self) -> None:
        if self._closed.is_set():
            return
        try:
            if self._opened and not self.session.closed:
                try:  # bounded: a stuck session must not keep the peer (ports, threads) alive
                    await asyncio.wait_for(self.session.close(self.end_reason), SESSION_CLOSE_LIMIT_S)
                except TimeoutError:
                    log.error("%s: session did not close within %d s", self.id, SESSION_CLOSE_LIMIT_S)
            tts = getattr(self.dialect, "tts", None)
            if tts is not None:
                with contextlib.suppress(Exception):
                    await tts.aclose()
            await self._drain_channel()
        finally:
            self.track.stop()
            with contextlib.suppress(Exception):
                await self.pc.close()
            if self.registry.sessions.pop(self.session.id, None) is not None:
                self.registry.session_closed()
            self._closed.set()
            if self._on_closed is not None:
                self._on_closed(self)
            log.info("%s: closed (%s)", self.id, self.end_reason)

    async def _drain_channel(self) -> None:
        """Give the last events (``session.closed``) up to 1 s to leave before the transport closes."""
        channel = self.output.channel
        deadline = time.monotonic() + 1.0
        await asyncio.sleep(0)  # the session's sender task writes session.closed on its next turn
        while channel is not None and channel.readyState == "open" and time.monotonic() < deadline:
            if channel.bufferedAmount == 0:
                break
            await asyncio.sleep(0.02)

    # --- client events --------------------------------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            message = await self._inbox.get()
            if not await self._dispatch(message):
                self._end("client closed the session")
                return

    async def _dispatch(self, message: str | bytes) -> bool:
        event_id: str | None = None
        try:
            if isinstance(message, bytes):
                raise InvalidRequestError(
                    "binary data-channel messages are not accepted; audio travels on the audio track",
                    param="message",
                    code="invalid_event",
                )
            payload, event_id = parse_event(message, MAX_MESSAGE_CHARS)
            keep = await self.dialect.handle(payload, self.session)
            if payload["type"] in ("tts.cancel", "tts.speak"):
                # A new utterance interrupts the one playing: drop what is queued for the old one.
                self.track.flush()
            return keep
        except TheoError as exc:
            self.output.send_raw(
                self.dialect.error(
                    exc.code or "invalid_request", exc.message, param=exc.param, event_id=event_id
                )
            )
            return True

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def wait_closed(self) -> None:
        await self._closed.wait()
