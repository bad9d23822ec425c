"""One browser (or any WebRTC client) on one :class:`Call`: the thin adapter between aiortc and the
transport-agnostic call.

    microphone Opus track ──aiortc/PyAV decode──▶ pump_microphone ──▶ session.push_audio
    data channel "oai-events" ◀──▶ call.post / the session's events (Theo protocol)
    speaker ──PacedTrackSink──▶ PacedAudioTrack ──▶ browser
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from theo_rtc.errors import InvalidRequestError
from theo_rtc.runtime import TheoRuntime
from theo_rtc.session import SessionConfig
from theo_rtc.session.state import Timeouts
from theo_rtc.transports.call import Call
from theo_rtc.transports.protocol import TheoDialect
from theo_rtc.transports.registry import SessionRegistry, TooManySessionsError
from theo_rtc.transports.webrtc.ice import host_addresses, rtc_configuration, set_jitter_frames
from theo_rtc.transports.webrtc.output import DataChannelOutput
from theo_rtc.transports.webrtc.tracks import PacedAudioTrack, PacedTrackSink, pump_microphone

log = logging.getLogger("theo.webrtc")

EVENTS_CHANNEL = "oai-events"  # OpenAI's Realtime WebRTC name, so their client code works unchanged
MAX_MESSAGE_CHARS = 256 * 1024
MAX_BUFFERED = 4 * 1024 * 1024  # bytes queued on the data channel for a peer that stopped reading


class InvalidOfferError(InvalidRequestError):
    code = "invalid_sdp"


class WebRTCPeer:
    """Create, :meth:`reserve`, :meth:`answer` the offer, :meth:`open`, then :meth:`start`; the peer cleans
    itself up when the browser goes away (tab closed, ICE/DTLS failure or timeout), the session ends, or
    :meth:`hangup` is called."""

    def __init__(
        self,
        runtime: TheoRuntime,
        registry: SessionRegistry,
        config: SessionConfig,
        *,
        on_closed: Callable[[WebRTCPeer], object] | None = None,
    ) -> None:
        settings = runtime.settings
        self.runtime = runtime
        dialect = TheoDialect()
        self.track = PacedAudioTrack(settings.webrtc_send_buffer_ms)
        self.output = DataChannelOutput(
            dialect.translate, max_backlog=settings.ws_send_queue, max_buffered=MAX_BUFFERED
        )
        # The session's INIT timeout (30 s) fires when nobody has *spoken* yet, but a WebRTC microphone
        # sends audio all along and a silent peer is detected by ICE consent instead: an open tab where
        # nobody has spoken yet gets the same budget as one gone quiet (SILENCE -> HOLD -> CLOSING).
        defaults = Timeouts()
        timeouts = replace(defaults, init_s=defaults.silence_s + defaults.hold_s)
        self.call = Call(
            runtime,
            registry,
            dialect,
            self.output,
            config,
            sink=PacedTrackSink(self.track),
            timeouts=timeouts,
            max_message_chars=MAX_MESSAGE_CHARS,
        )
        self.session = self.call.session
        self.id = "rtc_" + self.session.id.removeprefix("sess_")
        self.pc = RTCPeerConnection(rtc_configuration(settings))
        self._on_closed = on_closed
        self._connected = asyncio.Event()
        self._closed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._mic: MediaStreamTrack | None = None
        self.created_at = time.monotonic()
        self.pc.on("connectionstatechange", self._on_connection_state)
        self.pc.on("datachannel", self._on_datachannel)

    @property
    def end_reason(self) -> str:
        return self.call.end_reason

    # --- signaling ------------------------------------------------------------------------------------------

    def reserve(self) -> None:
        """Count the peer against the pending-offer budget from the start (``max_sessions`` once it
        connects), so a burst of offers cannot overshoot it while answers are being made, nor offers that
        never connect lock established sessions out; fails fast on an unknown model."""
        self.call.reserve(pending=True)

    async def open(self) -> None:
        """Start the session, once the offer is known to be good: starting and at once cancelling a
        session can hang in the engine stream's setup, so a bad offer never starts one."""
        await self.call.open()

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
        self.call.end(reason)
        await self._closed.wait()

    async def abort(self) -> None:
        """Free everything for a peer that never started (bad offer, full server)."""
        await self.call.abort()
        await self._release()

    # --- lifecycle ------------------------------------------------------------------------------------------

    def _on_connection_state(self) -> None:
        state = self.pc.connectionState
        log.debug("%s: connection %s", self.id, state)
        if state == "connected":
            self._connected.set()
        elif state in ("failed", "closed"):
            self.call.end(f"connection {state}")

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label != EVENTS_CHANNEL:
            log.info(
                "%s: ignoring data channel %r (events travel on %r)", self.id, channel.label, EVENTS_CHANNEL
            )
            return
        self.output.attach(channel)
        channel.on("message", self.call.post)
        channel.on("close", lambda: self.call.end("data channel closed"))

    async def _run(self) -> None:
        timeout = self.runtime.settings.webrtc_connect_timeout_s
        try:
            connected = asyncio.create_task(self._connected.wait())
            ended = asyncio.create_task(self.call.wait_ended())
            await asyncio.wait({connected, ended}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            connected.cancel()
            ended.cancel()
            if not self._connected.is_set():
                if not self.call.ended:
                    log.warning(
                        "%s: ICE/DTLS did not complete within %.0f s; freeing the call", self.id, timeout
                    )
                    self.call.end("connect timeout")
                return
            try:
                self.call.registry.promote(self.session)
            except TooManySessionsError as exc:
                log.warning("%s: connected, but %s", self.id, exc.message)
                self.session.emit("error", code=exc.code, message=exc.message, recoverable=False)
                self.call.end("too many sessions")
                return
            log.info(
                "%s: connected (session %s, model %s)", self.id, self.session.id, self.session.config.model
            )
            assert self._mic is not None
            await self.call.run(self._pump())
        except Exception:
            log.exception("%s: call failed", self.id)
        finally:
            await self._release()

    async def _pump(self) -> None:
        assert self._mic is not None
        await pump_microphone(self._mic, self.session)
        self.call.end("microphone track ended")

    async def _release(self) -> None:
        if self._closed.is_set():
            return
        try:
            await self.call.close()
            await self._drain_channel()
        finally:
            self.track.stop()
            with contextlib.suppress(Exception):
                await self.pc.close()
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

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def wait_closed(self) -> None:
        await self._closed.wait()
