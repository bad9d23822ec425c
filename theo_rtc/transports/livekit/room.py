"""Theo in one LiveKit room: a :class:`Call` per remote audio track, one published track for its voice.

    remote audio track ──rtc.AudioStream (16 kHz mono)──▶ Call(session) ──▶ theo.events + lk.transcription
    theo.events data packet ──▶ the sender's call (dispatch, like a WebSocket message)
    room Speaker ──RoomAudioSink (rtc.AudioSource)──▶ Theo's track; holds every session's gate while heard

A track unpublished (or its participant gone) closes its call; a track published again gets a new one.
Past ``max_tracks`` calls, further tracks are ignored and the room is told so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from livekit import rtc
from pydantic import ValidationError

from theo_rtc.agent.defaults import options_for
from theo_rtc.runtime import TheoRuntime
from theo_rtc.session import InputGate, SessionConfig
from theo_rtc.transports.call import Call
from theo_rtc.transports.livekit.output import EVENTS_TOPIC, RoomEventOutput
from theo_rtc.transports.livekit.phone import PhoneCallInfo, PhoneOptions, is_phone
from theo_rtc.transports.livekit.sink import RoomAudioSink
from theo_rtc.transports.protocol import TheoDialect
from theo_rtc.transports.registry import SessionRegistry
from theo_rtc.transports.speaker import Speaker

log = logging.getLogger("theo.livekit")

__all__ = ["RoomOptions", "TheoRoom", "agent_from_metadata", "session_config_from_metadata"]

VOICE_TRACK = "theo-voice"
MAX_MESSAGE_CHARS = 256 * 1024


@dataclass(frozen=True, slots=True)
class RoomOptions:
    max_tracks: int = 8  # sessions one room may hold; further tracks are ignored (and the room told why)
    config: SessionConfig = field(default_factory=SessionConfig)
    leave_when_alone: bool = True  # end the job once no other participant is left
    agent: dict[str, Any] | None = None  # voice agent options (wire fields) for every session; None: none
    phone: PhoneOptions = field(default_factory=PhoneOptions)  # for tracks of SIP callers


def session_config_from_metadata(metadata: str, base: SessionConfig) -> SessionConfig:
    """Dispatch metadata may carry session options (JSON: language, model, tts_voice, hot_words, ...)."""
    if not metadata.strip():
        return base
    try:
        options = json.loads(metadata)
    except json.JSONDecodeError as exc:
        raise ValueError(f"dispatch metadata is not JSON: {exc.msg}") from exc
    if not isinstance(options, dict):
        raise ValueError("dispatch metadata must be a JSON object of session options")
    # "replaces": a re-dispatch's marker; "agent": the voice agent's options (agent_from_metadata)
    options = {k: v for k, v in options.items() if k not in ("replaces", "agent", "phone")}
    options = options.get("session", options)
    if "voice" in options and "tts_voice" not in options:
        options["tts_voice"] = options.pop("voice")
    try:
        return SessionConfig.model_validate(base.model_dump() | options)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"dispatch metadata: {'.'.join(map(str, first['loc']))}: {first['msg']}") from exc


def agent_from_metadata(metadata: str) -> dict[str, Any] | None:
    """Dispatch metadata ``{"agent": {...options...}}`` (or ``"agent": true`` for the server's defaults):
    every session in the room gets the voice agent. Options are checked when a session starts."""
    try:
        options = json.loads(metadata) if metadata.strip() else {}
    except json.JSONDecodeError:
        return None  # session_config_from_metadata reports it
    agent = options.get("agent") if isinstance(options, dict) else None
    if agent is True:
        return {}
    if agent is None or agent is False:
        return None
    if not isinstance(agent, dict):
        raise ValueError("dispatch metadata: 'agent' must be true or an object of agent options")
    return agent


class TheoRoom:
    def __init__(
        self, runtime: TheoRuntime, registry: SessionRegistry, room: rtc.Room, options: RoomOptions
    ) -> None:
        self.runtime = runtime
        self.registry = registry
        self.room = room
        self.options = options
        self.calls: dict[str, Call] = {}  # by remote track sid
        self._owners: dict[str, str] = {}  # track sid -> participant identity
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._ended = asyncio.Event()
        self.end_reason = ""
        self.sink: RoomAudioSink | None = None
        self.speaker: Speaker | None = None
        self._ignored: set[str] = set()  # tracks past max_tracks (they stay ignored)
        self._notices: RoomEventOutput | None = None  # the room's own messages, in order
        self.phone_calls: dict[str, PhoneCallInfo] = {}  # by track sid, for tracks of SIP callers

    # --- lifecycle ------------------------------------------------------------------------------------------

    async def serve(self, url: str, token: str) -> str:
        """Join, serve until the room ends (or everyone left), then free every call; returns why it ended."""
        room = self.room
        room.on("track_subscribed", self._on_track_subscribed)
        room.on("track_unsubscribed", self._on_track_gone)
        room.on("participant_disconnected", self._on_participant_gone)
        room.on("data_received", self._on_data)
        room.on("sip_dtmf_received", self._on_dtmf)
        room.on("participant_connected", self._on_participant_joined)
        room.on("disconnected", lambda reason: self.end(f"disconnected from the room ({reason})"))
        await room.connect(url, token, rtc.RoomOptions(auto_subscribe=True))
        log.info("joined room %s as %s", room.name, room.local_participant.identity)
        self.sink = RoomAudioSink.create()
        self.speaker = Speaker(self.runtime, None, self.sink, gates=self._gates)
        track = rtc.LocalAudioTrack.create_audio_track(VOICE_TRACK, self.sink.source)
        await room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        for participant in room.remote_participants.values():  # tracks published before we joined
            for publication in participant.track_publications.values():
                if publication.track is not None and publication.kind == rtc.TrackKind.KIND_AUDIO:
                    self._on_track_subscribed(publication.track, publication, participant)
        try:
            await self._ended.wait()
        finally:
            await self._close()
        return self.end_reason

    def end(self, reason: str) -> None:
        if not self._ended.is_set():
            self.end_reason = reason
            self._ended.set()

    async def _close(self) -> None:
        for call in list(self.calls.values()):
            call.end(self.end_reason or "room closed")
        tasks = list(self._tasks.values())
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self.speaker is not None:
            await self.speaker.aclose()
        if self._notices is not None:
            await self._notices.aclose()
        if self.sink is not None:
            with contextlib.suppress(Exception):
                await self.sink.aclose()
        with contextlib.suppress(Exception):
            await self.room.disconnect()
        log.info("left room %s (%s)", self.room.name, self.end_reason)

    # --- tracks ---------------------------------------------------------------------------------------------

    def _on_track_subscribed(
        self, track: rtc.Track, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        if track.kind != rtc.TrackKind.KIND_AUDIO or track.sid in self._tasks or track.sid in self._ignored:
            return
        if len(self._tasks) >= self.options.max_tracks:
            self._ignored.add(track.sid)
            log.warning(
                "room %s: ignoring %s's track %s, already at %d sessions",
                self.room.name,
                participant.identity,
                track.sid,
                self.options.max_tracks,
            )
            self._publish_error(
                "too_many_tracks",
                f"Theo serves at most {self.options.max_tracks} audio tracks in a room; "
                f"track {track.sid} of {participant.identity} is not transcribed",
                participant=participant.identity,
                track_sid=track.sid,
            )
            return
        self._owners[track.sid] = participant.identity
        self._tasks[track.sid] = asyncio.create_task(
            self._serve_track(track, participant), name=f"lk-track-{track.sid}"
        )

    async def _serve_track(self, track: rtc.Track, participant: rtc.RemoteParticipant) -> None:
        sid = track.sid
        output = RoomEventOutput(self.room, participant_identity=participant.identity, track_sid=sid)
        call = Call(
            self.runtime,
            self.registry,
            TheoDialect(),
            output,
            self.options.config,
            speaker=self.speaker,
            max_message_chars=MAX_MESSAGE_CHARS,
        )
        try:
            if self.options.agent is not None:
                call.agent_options = await options_for(self.runtime, self.options.agent)
            call.reserve()
            await call.open()
            self.calls[sid] = call
            log.info(
                "room %s: session %s for %s's track %s", self.room.name, call.id, participant.identity, sid
            )
            if is_phone(participant):
                self._answer_phone(call, participant, sid)
            await call.run(self._pump(track, call))
        except Exception as exc:
            log.warning("room %s: track %s not served: %s", self.room.name, sid, exc, exc_info=True)
            self._publish_error(
                getattr(exc, "code", None) or "internal_error",
                getattr(exc, "message", None) or str(exc),
                participant=participant.identity,
                track_sid=sid,
            )
            await call.abort()
        finally:
            await call.close()
            await output.aclose()
            self.calls.pop(sid, None)
            self.phone_calls.pop(sid, None)
            self._tasks.pop(sid, None)
            self._owners.pop(sid, None)
            log.info("room %s: session %s closed (%s)", self.room.name, call.id, call.end_reason)

    # --- phone calls (LiveKit SIP) ----------------------------------------------------------------------

    def _answer_phone(self, call: Call, participant: rtc.RemoteParticipant, sid: str) -> None:
        """A SIP caller's session: announce the call (``phone.call``), then say the greeting."""
        info = PhoneCallInfo.of(participant)
        self.phone_calls[sid] = info
        call.session.emit("phone.call", **info.event())
        log.info(
            "room %s: phone call %s from %r to %r",
            self.room.name,
            info.call_id,
            info.from_number,
            info.to_number,
        )
        if self.options.phone.greeting:
            # as a client's tts.speak: the same validation, events and mute-while-speaking
            call.post(json.dumps({"type": "tts.speak", "text": self.options.phone.greeting}))

    def _on_dtmf(self, dtmf: rtc.SipDTMF) -> None:
        """The caller's RFC 4733 digits (LiveKit SIP sends each as a SIP DTMF packet): a ``dtmf`` event on
        each session of that participant's tracks."""
        identity = dtmf.participant.identity if dtmf.participant is not None else ""
        for sid, owner in list(self._owners.items()):
            call = self.calls.get(sid)
            if owner == identity and call is not None:
                call.session.emit("dtmf", digit=dtmf.digit, code=dtmf.code, participant_identity=identity)

    def _on_participant_joined(self, participant: rtc.RemoteParticipant) -> None:
        """Someone joining a call late (a supervisor, a dashboard) hears which calls are going on."""
        for sid, info in list(self.phone_calls.items()):
            call = self.calls.get(sid)
            if call is not None:
                call.session.emit("phone.call", **info.event())

    def _gates(self) -> list[InputGate]:
        return [call.session.input_gate for call in self.calls.values()]

    async def _pump(self, track: rtc.Track, call: Call) -> None:
        """The track's audio at the session's rate, mono (LiveKit resamples and downmixes: a participant
        at 8 kHz or in stereo reaches the session like any other)."""
        session = call.session
        stream = rtc.AudioStream.from_track(
            track=track, sample_rate=session.config.sample_rate, num_channels=1
        )
        try:
            async for event in stream:
                samples = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float32) / 32768.0
                if session.closed:
                    break
                session.push_audio(samples)
        finally:
            await stream.aclose()
        call.end("track ended")

    def _on_track_gone(
        self, track: rtc.Track, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        call = self.calls.get(track.sid)
        if call is not None:
            call.end("track unpublished")

    def _on_participant_gone(self, participant: rtc.RemoteParticipant) -> None:
        for sid, owner in list(self._owners.items()):
            if owner == participant.identity and sid in self.calls:
                self.calls[sid].end("participant left")
        if self.options.leave_when_alone and not any(
            p.kind != rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
            for p in self.room.remote_participants.values()
        ):
            self.end("everyone left")

    # --- theo.events ----------------------------------------------------------------------------------------

    def _on_data(self, packet: rtc.DataPacket) -> None:
        if packet.topic != EVENTS_TOPIC or packet.participant is None:
            return
        identity = packet.participant.identity
        try:
            text: str | bytes = packet.data.decode("utf-8")
        except UnicodeDecodeError:
            text = packet.data
        call = self._call_for(identity, text)
        if call is None:
            self._publish_error(
                "no_session",
                "events on theo.events apply to the session of your audio track: publish one first",
                participant=identity,
            )
            return
        call.post(text)

    def _call_for(self, identity: str, text: str | bytes) -> Call | None:
        """The sender's call: the one its ``session_id`` names, else its first audio track's."""
        mine = [
            self.calls[sid] for sid, owner in self._owners.items() if owner == identity and sid in self.calls
        ]
        if len(mine) > 1 and isinstance(text, str):
            with contextlib.suppress(ValueError, AttributeError):
                wanted = json.loads(text).get("session_id")
                for call in mine:
                    if call.id == wanted:
                        return call
        return mine[0] if mine else None

    def _publish_error(
        self, code: str, message: str, *, participant: str, track_sid: str | None = None
    ) -> None:
        """An ``error`` event from the room itself (no session), naming the participant (and track) it is
        about: published to the room, in order, like every other event."""
        if self._notices is None:
            self._notices = RoomEventOutput(self.room)
        error = {"type": "error", "code": code, "message": message, "param": None, "recoverable": True}
        error["participant_identity"] = participant
        if track_sid is not None:
            error["track_sid"] = track_sid
        self._notices.send_raw(error)
