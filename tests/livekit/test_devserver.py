"""The LiveKit plumbing against a real livekit-server: ``theo livekit token | dispatch | rooms | dev``,
the API helpers, and real ``livekit.rtc`` participants exchanging audio over loopback."""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest
import typer
from livekit import rtc

from tests.conftest import THEO
from theo_rtc.cli.livekit import parse_duration
from theo_rtc.transports.livekit import api, devserver
from theo_rtc.transports.livekit.devserver import LocalLiveKit, free_tcp_port, free_udp_range
from theo_rtc.transports.livekit.settings import LiveKitError, LiveKitSettings

# The dev secret ("secret") is short on purpose; PyJWT warns about every token signed with it.
pytestmark = pytest.mark.filterwarnings("ignore:The HMAC key is:UserWarning")

SAMPLE_RATE = 48000
TONE_HZ = 440.0


def theo_livekit(
    server: LocalLiveKit | None, *args: str, secret: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``theo livekit ARGS`` with the server given through LiveKit's environment variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")} | {"COLUMNS": "200"}
    if server is not None:
        env |= {
            "LIVEKIT_URL": server.url,
            "LIVEKIT_API_KEY": server.api_key,
            "LIVEKIT_API_SECRET": secret or server.api_secret,
        }
    return subprocess.run([THEO, "livekit", *args], env=env, capture_output=True, text=True, timeout=120)


def assert_one_line_error(out: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


async def test_cli_token_lets_a_participant_join(livekit_server: LocalLiveKit) -> None:
    out = theo_livekit(
        livekit_server, "token", "--room", "token-room", "--identity", "alice", "--name", "Alice"
    )
    assert out.returncode == 0, out.stderr
    jwt = out.stdout.strip()
    assert jwt.count(".") == 2 and "\n" not in jwt

    room = rtc.Room()
    await room.connect(livekit_server.url, jwt)
    try:
        assert room.isconnected()
        assert room.name == "token-room"
        assert room.local_participant.identity == "alice"
        assert room.local_participant.name == "Alice"
    finally:
        await room.disconnect()


async def test_token_signed_with_a_wrong_secret_is_refused(livekit_server: LocalLiveKit) -> None:
    wrong = LiveKitSettings(
        url=livekit_server.url, api_key=livekit_server.api_key, api_secret="not-the-secret"
    )
    room = rtc.Room()
    with pytest.raises(rtc.ConnectError) as refused:
        await room.connect(livekit_server.url, api.make_token(wrong, "r", "mallory"))
    assert "401" in refused.value.message and "signature is invalid" in refused.value.message


async def test_expired_token_is_refused(livekit_server: LocalLiveKit) -> None:
    # livekit-server allows a minute of clock skew; ten minutes past expiry is expired.
    expired = api.make_token(livekit_server.settings, "r", "late", ttl=timedelta(minutes=-10))
    room = rtc.Room()
    with pytest.raises(rtc.ConnectError) as refused:
        await room.connect(livekit_server.url, expired)
    assert "401" in refused.value.message and "token is expired" in refused.value.message


def test_cli_token_rejects_a_bad_ttl() -> None:
    assert_one_line_error(
        theo_livekit(None, "token", "--room", "r", "--identity", "i", "--ttl", "soon"), "--ttl", "90s"
    )
    assert parse_duration("1h30m") == timedelta(minutes=90) and parse_duration("45") == timedelta(seconds=45)
    for bad in ("0s", "-5m", "6 hours", ""):
        with pytest.raises(typer.BadParameter):
            parse_duration(bad)


async def test_cli_dispatch_shows_in_rooms_and_the_api(livekit_server: LocalLiveKit) -> None:
    room = "dispatch-room"
    assert not await api.room_exists(livekit_server.settings, room)
    out = theo_livekit(livekit_server, "dispatch", "--room", room, "--metadata", '{"language": "pt"}')
    assert out.returncode == 0, out.stderr
    assert f"room '{room}' did not exist: created it" in out.stderr
    dispatch_id = out.stdout.split()[1].rstrip(":")
    assert dispatch_id.startswith("AD_"), out.stdout

    listed = theo_livekit(livekit_server, "rooms", "--json")
    assert listed.returncode == 0, listed.stderr
    (entry,) = [r for r in json.loads(listed.stdout) if r["name"] == room]
    assert entry["num_participants"] == 0
    assert entry["dispatches"] == [
        {"id": dispatch_id, "agent_name": "theo", "metadata": '{"language":"pt"}', "jobs": 0}
    ]
    table = theo_livekit(livekit_server, "rooms")
    assert table.returncode == 0, table.stderr
    assert room in table.stdout and dispatch_id in table.stdout

    # Every room also carries livekit-server's automatic dispatch (agent_name "": unnamed workers).
    dispatches = await api.list_dispatches(livekit_server.settings, room)
    assert sorted(d.agent_name for d in dispatches) == ["", "theo"]
    (via_api,) = [d for d in dispatches if d.agent_name == "theo"]
    assert (via_api.id, json.loads(via_api.metadata)) == (dispatch_id, {"language": "pt"})

    # A second dispatch into the room that now exists: no room creation, every dispatch listed.
    again = theo_livekit(livekit_server, "dispatch", "--room", room, "--agent-name", "other")
    assert again.returncode == 0 and "did not exist" not in again.stderr, again.stderr
    names = sorted(d.agent_name for d in await api.list_dispatches(livekit_server.settings, room))
    assert names == ["", "other", "theo"]
    theo_only = await api.list_rooms(livekit_server.settings)
    assert [d.agent_name for r in theo_only if r.name == room for d in r.dispatches] == ["theo"]
    await api.delete_room(livekit_server.settings, room)


async def test_rooms_counts_participants(livekit_server: LocalLiveKit) -> None:
    room = rtc.Room()
    await room.connect(livekit_server.url, api.make_token(livekit_server.settings, "counted-room", "bob"))
    try:
        out = theo_livekit(livekit_server, "rooms", "--json")
        assert out.returncode == 0, out.stderr
        (entry,) = [r for r in json.loads(out.stdout) if r["name"] == "counted-room"]
        assert entry["num_participants"] == 1 and entry["dispatches"] == []
    finally:
        await room.disconnect()


def test_cli_dispatch_bad_metadata_is_a_clear_error(livekit_server: LocalLiveKit) -> None:
    out = theo_livekit(livekit_server, "dispatch", "--room", "never", "--metadata", "{language: pt")
    assert_one_line_error(out, "--metadata is not valid JSON", "line 1 column 2")


def test_server_down_and_wrong_secret_are_one_line_errors(livekit_server: LocalLiveKit) -> None:
    down = LocalLiveKit(port=free_tcp_port())  # never started: nothing listens on its port
    assert_one_line_error(theo_livekit(down, "rooms"), "cannot reach a LiveKit server", "connection refused")
    assert_one_line_error(theo_livekit(down, "dispatch", "--room", "x"), "cannot reach a LiveKit server")
    assert_one_line_error(
        theo_livekit(livekit_server, "rooms", secret="wrong"), "HTTP 401", "LIVEKIT_API_SECRET"
    )


async def test_api_helpers_raise_livekit_errors() -> None:
    down = LiveKitSettings(url=f"ws://127.0.0.1:{free_tcp_port()}")
    with pytest.raises(LiveKitError, match="cannot reach a LiveKit server"):
        await api.list_rooms(down)
    with pytest.raises(LiveKitError, match="not valid JSON"):
        api.parse_metadata("[1, 2")
    assert api.parse_metadata(' { "a" : 1 } ') == '{"a":1}' and api.parse_metadata(None) == ""


def test_missing_binary_names_the_setup_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("THEO_LIVEKIT_SERVER", raising=False)
    monkeypatch.setattr(devserver, "TOOLS_BINARY", tmp_path / "livekit-server")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LiveKitError, match=r"scripts/setup --dev"):
        devserver.find_livekit_server()


def server_sockets(server: LocalLiveKit) -> list[tuple[str, int, str]]:
    """(address, port, kind) of livekit-server's listening TCP and bound UDP sockets."""
    assert server.process is not None
    found = []
    for s in psutil.Process(server.process.pid).net_connections(kind="inet"):
        if s.status == psutil.CONN_LISTEN:
            found.append((s.laddr.ip, s.laddr.port, "tcp"))
        elif s.status == psutil.CONN_NONE:
            found.append((s.laddr.ip, s.laddr.port, "udp"))
    return found


def test_server_listens_on_loopback_only(livekit_server: LocalLiveKit) -> None:
    sockets = server_sockets(livekit_server)
    assert ("127.0.0.1", livekit_server.port, "tcp") in sockets
    assert {ip for ip, _, _ in sockets} == {"127.0.0.1"}, sockets


def test_cli_defaults_are_the_dev_server() -> None:
    from theo_rtc.cli import livekit as cli
    from theo_rtc.transports.livekit import settings

    assert (cli.DEV_URL, cli.DEV_API_KEY, cli.DEV_API_SECRET) == (
        settings.DEV_URL,
        settings.DEV_API_KEY,
        settings.DEV_API_SECRET,
    )
    dev = LocalLiveKit()  # livekit.yaml as it is
    assert (dev.url, dev.api_key, dev.api_secret) == (
        settings.DEV_URL,
        settings.DEV_API_KEY,
        settings.DEV_API_SECRET,
    )


def test_cli_dev_starts_answers_and_stops_on_sigint(tmp_path: Path) -> None:
    port = free_tcp_port()
    low, high = free_udp_range(8)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    log = (tmp_path / "dev.log").open("w+")
    proc = subprocess.Popen(
        [THEO, "livekit", "dev", "--port", str(port), "--udp-ports", f"{low}-{high}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while "Ctrl-C stops it." not in Path(log.name).read_text():  # the banner, once it is ready
            assert proc.poll() is None, Path(log.name).read_text()
            assert time.monotonic() < deadline, Path(log.name).read_text()
            time.sleep(0.2)
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200
        settings = LiveKitSettings(url=f"ws://127.0.0.1:{port}")  # the dev defaults: devkey / secret
        assert asyncio.run(api.list_rooms(settings)) == []
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert time.monotonic() - started < 10
        text = Path(log.name).read_text()
        assert f"ws://127.0.0.1:{port}" in text and f"UDP {low}-{high} on 127.0.0.1" in text
        assert "livekit-server stopped (exit code 0)" in text
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def _dominant_hz(pcm: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm))))
    return float(np.fft.rfftfreq(len(pcm), 1 / rate)[int(np.argmax(spectrum))])


async def test_audio_flows_between_two_participants(livekit_server: LocalLiveKit) -> None:
    """One participant publishes a 440 Hz tone; the other receives it through the SFU: the ICE/UDP media
    path works with livekit.yaml's loopback-only config."""
    settings = livekit_server.settings
    listener, speaker = rtc.Room(), rtc.Room()
    loop = asyncio.get_running_loop()
    subscribed: asyncio.Future[rtc.Track] = loop.create_future()

    @listener.on("track_subscribed")
    def _on_track(track: rtc.Track, _pub: rtc.RemoteTrackPublication, who: rtc.RemoteParticipant) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO and who.identity == "speaker" and not subscribed.done():
            subscribed.set_result(track)

    await listener.connect(livekit_server.url, api.make_token(settings, "media-room", "listener"))
    await speaker.connect(livekit_server.url, api.make_token(settings, "media-room", "speaker"))
    source = rtc.AudioSource(SAMPLE_RATE, 1)
    frame_samples = SAMPLE_RATE // 100  # 10 ms

    async def play_tone() -> None:
        n = 0
        while True:
            t = (np.arange(frame_samples) + n * frame_samples) / SAMPLE_RATE
            pcm = (0.3 * 32767 * np.sin(2 * math.pi * TONE_HZ * t)).astype(np.int16)
            await source.capture_frame(rtc.AudioFrame(pcm.tobytes(), SAMPLE_RATE, 1, frame_samples))
            n += 1

    player = asyncio.create_task(play_tone())
    try:
        track = rtc.LocalAudioTrack.create_audio_track("tone", source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        await speaker.local_participant.publish_track(track, options)
        remote = await asyncio.wait_for(subscribed, 20)
        # The media sockets: ICE/UDP from livekit.yaml's range, on loopback only.
        udp = [(ip, port) for ip, port, kind in server_sockets(livekit_server) if kind == "udp"]
        low, high = livekit_server.udp_port_range or (0, 0)
        assert udp and all(ip == "127.0.0.1" and low <= port <= high for ip, port in udp), udp

        stream = rtc.AudioStream(remote, sample_rate=SAMPLE_RATE, num_channels=1)
        chunks: list[np.ndarray] = []

        async def receive() -> None:
            async for event in stream:
                chunks.append(np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float64))
                if sum(len(c) for c in chunks) >= 2 * SAMPLE_RATE:  # 2 s
                    return

        try:
            await asyncio.wait_for(receive(), 30)
        finally:
            await stream.aclose()
        tail = np.concatenate(chunks)[-SAMPLE_RATE:]  # the last second: past jitter-buffer start-up
        rms = float(np.sqrt(np.mean(tail**2)))
        assert rms > 0.5 * 0.3 * 32767 / math.sqrt(2), rms  # the tone's level, give or take Opus
        assert abs(_dominant_hz(tail, SAMPLE_RATE) - TONE_HZ) < 5
    finally:
        player.cancel()
        await speaker.disconnect()
        await listener.disconnect()
