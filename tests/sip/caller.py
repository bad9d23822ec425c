"""A real SIP phone for the tests: PJSUA2 (pjproject 2.15, the ``pjsua2-python`` wheel) in its own process.

    python -m tests.sip.caller --to sip:+15550100@127.0.0.1:5060 --record heard.wav [--bind 127.0.0.1]

It places one call (G.711 µ-law only, DTMF as RFC 4733 telephone-events, no sound card: PJSUA's null
audio device clocks the media at 8 kHz), records everything it hears into ``--record`` (8 kHz PCM16 WAV),
and takes JSON commands, one a line, on stdin:

    {"cmd": "play", "wav": "speech.wav"}   send a WAV (8 kHz µ-law or PCM16 mono) once
    {"cmd": "dtmf", "digits": "12#"}       RFC 4733 digits
    {"cmd": "hangup"}                      BYE (or CANCEL before the answer)

Each happening is a JSON line on stdout with ``t`` (``time.monotonic()``, the same clock as the test's):
``{"event": "state", "state": "CONFIRMED", "code": 200, ...}``, ``media``, ``played``, ``dtmf_sent``,
``heard_start`` / ``heard_end`` (the far end's audio rose above / fell below a level, for at least
``QUIET_S``), ``disconnected`` (with the final SIP code), ``error``. All PJSUA work runs on this process's
main thread (``mainThreadOnly``): a reader thread only queues the commands.
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import threading
import time
from typing import Any

import pjsua2 as pj

CLOCK_RATE = 8_000
LOUD_PERCENT = 2  # PJSUA's signal level (0-100) above which we are hearing something
QUIET_S = 1.0  # this long below it ends what we heard


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, "t": time.monotonic(), **fields}) + "\n")
    sys.stdout.flush()


class StderrLog(pj.LogWriter):
    """PJSUA's log on stderr: stdout carries only our JSON lines."""

    def write(self, entry: pj.LogEntry) -> None:
        sys.stderr.write(entry.msg if entry.msg.endswith("\n") else entry.msg + "\n")


class Player(pj.AudioMediaPlayer):
    def onEof2(self) -> None:
        emit("played")
        self.done = True


class PhoneCall(pj.Call):
    def __init__(self, account: pj.Account, recording: str) -> None:
        super().__init__(account)
        self.recording = recording
        self.recorder: pj.AudioMediaRecorder | None = None
        self.media: pj.AudioMedia | None = None
        self.over = False

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        emit("state", state=info.stateText, code=int(info.lastStatusCode), reason=info.lastReason)
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            emit("disconnected", code=int(info.lastStatusCode), reason=info.lastReason)
            self.over = True

    def onCallSdpCreated(self, prm: pj.OnCallSdpCreatedParam) -> None:
        """Put the connection line at session level too (PJSUA writes it per media only): livekit-sip
        v1.0.0 reads only the session-level ``c=`` and otherwise never sends RTP back (its media port has no
        destination). Many trunks write both, which RFC 4566 allows."""
        sdp = prm.sdp.wholeSdp
        head, _, media = sdp.partition("\r\nm=")
        connection = next((line for line in media.split("\r\n") if line.startswith("c=")), "")
        if connection and "\r\nc=" not in head:
            prm.sdp.wholeSdp = head.replace("\r\nt=", f"\r\n{connection}\r\nt=", 1) + "\r\nm=" + media

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        info = self.getInfo()
        for index, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self.media = self.getAudioMedia(index)
                if self.recorder is None:
                    self.recorder = pj.AudioMediaRecorder()
                    self.recorder.createRecorder(self.recording)
                    self.media.startTransmit(self.recorder)
                emit("media", codec=self.getStreamInfo(index).codecName)


def configure_codecs(endpoint: pj.Endpoint) -> None:
    """Offer PCMU only (plus telephone-event, which PJSUA adds for RFC 4733)."""
    for codec in endpoint.codecEnum2():
        endpoint.codecSetPriority(codec.codecId, 255 if codec.codecId.startswith("PCMU/") else 0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--to", required=True, help="SIP URI to call")
    parser.add_argument("--from-uri", default="sip:+15550199@127.0.0.1", help="our identity (From)")
    parser.add_argument("--bind", default="127.0.0.1", help="address for SIP and RTP")
    parser.add_argument("--record", required=True, help="WAV file for what we hear")
    parser.add_argument("--username", default="", help="digest auth user")
    parser.add_argument("--password", default="", help="digest auth password")
    args = parser.parse_args()

    endpoint = pj.Endpoint()
    endpoint.libCreate()
    config = pj.EpConfig()
    config.uaConfig.threadCnt = 0
    config.uaConfig.mainThreadOnly = True
    config.uaConfig.userAgent = "theo-tests-pjsua2"
    log_writer = StderrLog()
    config.logConfig.writer = log_writer
    config.logConfig.level = 3
    config.logConfig.consoleLevel = 3
    config.logConfig.decor = 0
    config.medConfig.clockRate = CLOCK_RATE
    config.medConfig.sndClockRate = CLOCK_RATE
    config.medConfig.noVad = True  # send every packet: the far end's VAD decides, not ours
    config.medConfig.ecTailLen = 0
    endpoint.libInit(config)
    transport = pj.TransportConfig()
    transport.port = 0
    transport.boundAddress = args.bind
    transport.publicAddress = args.bind
    endpoint.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
    endpoint.libStart()
    endpoint.audDevManager().setNullDev()
    configure_codecs(endpoint)

    account_config = pj.AccountConfig()
    account_config.idUri = args.from_uri
    account_config.mediaConfig.transportConfig.boundAddress = args.bind
    account_config.mediaConfig.transportConfig.publicAddress = args.bind
    account_config.natConfig.iceEnabled = False
    account_config.natConfig.sipStunUse = pj.PJSUA_STUN_USE_DISABLED
    account_config.natConfig.mediaStunUse = pj.PJSUA_STUN_USE_DISABLED
    if args.username:
        credentials = pj.AuthCredInfo("digest", "*", args.username, 0, args.password)
        account_config.sipConfig.authCreds.append(credentials)
    account = pj.Account()
    account.create(account_config)

    commands: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def read_commands() -> None:
        for line in sys.stdin:
            if line.strip():
                commands.put(json.loads(line))
        commands.put(None)  # stdin closed: the test is gone, hang up

    threading.Thread(target=read_commands, daemon=True).start()

    call = PhoneCall(account, args.record)
    players: list[Player] = []
    call.makeCall(args.to, pj.CallOpParam(True))
    emit("dialing", to=args.to)
    hung_up = False
    hearing, loud_at = False, 0.0
    while not call.over:
        endpoint.libHandleEvents(20)
        if call.media is not None:
            now = time.monotonic()
            # named from the bridge's side: the call port's "tx" level is what the far end sends us
            if call.media.getTxLevel() > LOUD_PERCENT:
                loud_at = now
                if not hearing:
                    hearing = True
                    emit("heard_start")
            elif hearing and now - loud_at > QUIET_S:
                hearing = False
                emit("heard_end", last_sound=loud_at)
        try:
            command = commands.get_nowait()
        except queue.Empty:
            continue
        try:
            if command is None or command.get("cmd") == "hangup":
                if not hung_up and call.isActive():
                    sys.stderr.write(call.dump(True, "  ") + "\n")  # RTP statistics, for the test's log
                if not hung_up:
                    call.hangup(pj.CallOpParam(True))
                    hung_up = True
            elif command["cmd"] == "play":
                if call.media is None:
                    raise RuntimeError("no media yet")
                player = Player()
                player.done = False
                player.createPlayer(command["wav"], pj.PJMEDIA_FILE_NO_LOOP)
                player.startTransmit(call.media)
                players.append(player)
                emit("playing", wav=command["wav"])
            elif command["cmd"] == "dtmf":
                call.dialDtmf(command["digits"])
                emit("dtmf_sent", digits=command["digits"])
        except Exception as exc:
            emit("error", message=f"{type(exc).__name__}: {exc}")
    for player in players:
        del player
    if call.recorder is not None:
        del call.recorder  # closes the WAV (writes its header sizes)
        call.recorder = None
    del call
    endpoint.libDestroy()
    emit("exited")


if __name__ == "__main__":
    main()
