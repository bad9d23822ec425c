"""WebRTC without a browser: an aiortc peer speaks real speech to Theo over POST /v1/realtime/calls and
reads the same events the WebSocket carries from the ``oai-events`` data channel."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.evalsets import load_set, wer
from bench.webrtc_client import WebRTCClient
from tests.conftest import RunningServer
from tests.realtime.helpers import pcm16

UTTERANCES = load_set("librivox_pocketsphinx_en")[:4]


async def health(server: RunningServer) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        body: dict[str, Any] = (await http.get("/health")).json()
        return body


def server_threads(server: RunningServer) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))


async def settle(server: RunningServer, tasks: int, threads: int, limit_s: float = 20.0) -> dict[str, Any]:
    """No session left, asyncio tasks and OS threads (aiortc's per-call codec threads) back near the
    baseline; a few threads of the default executor's pool stay once they exist (they are reused)."""
    deadline = time.monotonic() + limit_s
    while True:
        body = await health(server)
        now_threads = server_threads(server)
        if (
            body["sessions"] == 0
            and body["process"]["asyncio_tasks"] <= tasks + 5
            and now_threads <= threads + 4
        ):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(
                f"did not settle: {body['sessions']} sessions, {body['process']}, {now_threads} threads"
            )
        await asyncio.sleep(0.25)


async def speak(server: RunningServer, path: Path) -> WebRTCClient:
    client = WebRTCClient(server.url)
    await client.connect()
    data, rate = pcm16(path)
    await client.play(data + bytes(rate * 2), rate)  # trailing silence ends the utterance
    await client.wait_for("transcript.final", 30)
    return client


async def test_speech_to_final_transcript(rtc_server: RunningServer) -> None:
    before = await health(rtc_server)
    threads = server_threads(rtc_server)
    utterance = UTTERANCES[0]
    client = await speak(rtc_server, utterance.path)
    kinds = [e["type"] for _, e in client.events]
    assert kinds[0] == "session.created"  # queued before the channel opened, delivered first
    assert (
        kinds.index("vad.speech_start") < kinds.index("transcript.partial") < kinds.index("transcript.final")
    )
    final = client.of("transcript.final")[0]
    assert wer([utterance.text], [final["text"]]) <= 0.15, final["text"]
    assert final["words"] and final["confidence"] is not None
    await client.close()  # like closing the tab: the server notices and frees the session
    await settle(rtc_server, before["process"]["asyncio_tasks"], threads)


async def test_concurrent_peers(rtc_server: RunningServer) -> None:
    before = await health(rtc_server)
    threads = server_threads(rtc_server)
    after_rounds = []
    for _ in range(2):  # the second round must not leave more threads or memory behind than the first
        clients = await asyncio.gather(*(speak(rtc_server, u.path) for u in UTTERANCES))
        hypotheses = [" ".join(e["text"] for e in c.of("transcript.final")) for c in clients]
        assert wer([u.text for u in UTTERANCES], hypotheses) <= 0.15, hypotheses
        assert len({c.call_id for c in clients}) == len(UTTERANCES)
        await asyncio.gather(*(c.close() for c in clients))
        body = await settle(rtc_server, before["process"]["asyncio_tasks"], threads)
        after_rounds.append((server_threads(rtc_server), body["process"]["rss_mb"]))
    # A thread leaked per call would add len(UTTERANCES) per round; the default executor may still grow by
    # a thread or two on demand (its pool is bounded), which is not a leak.
    assert after_rounds[1][0] - after_rounds[0][0] < len(UTTERANCES), after_rounds  # threads
    assert after_rounds[1][1] - after_rounds[0][1] < 30, after_rounds  # RSS (MB): no per-call growth


async def test_data_channel_bad_messages_and_configure(rtc_server: RunningServer) -> None:
    client = WebRTCClient(rtc_server.url)
    await client.connect()
    client.channel.send("this is not json")
    error = await client.wait_for("error", 5)
    assert error["code"] == "invalid_json"
    client.channel.send(b"\x00\x01")
    client.send({"no": "type"})
    client.send({"type": "no.such.event"})
    client.send({"type": "session.configure", "vad_sensitivity": "loud"})
    client.send({"type": "session.configure", "min_silence_ms": 300, "language": "en"})
    configured = await client.wait_for("session.configured", 5)
    assert configured["config"]["min_silence_ms"] == 300
    codes = [e["code"] for e in client.of("error")]
    assert codes == ["invalid_json", "invalid_event", "invalid_event", "unknown_event", "invalid_request"], (
        codes
    )
    # the session survived all of it
    data, rate = pcm16(UTTERANCES[0].path)
    await client.play(data + bytes(rate * 2), rate)
    final = await client.wait_for("transcript.final", 30)
    assert wer([UTTERANCES[0].text], [final["text"]]) <= 0.2, final["text"]
    client.send({"type": "session.close"})
    closed = await client.wait_for("session.closed", 10)
    assert closed["reason"]
    await client.close()


async def test_data_channel_wrong_type_fields_do_not_end_the_call(rtc_server: RunningServer) -> None:
    """Issue 14: a wrong-type field used to end the whole call on the data channel, without an error."""
    from tests.transports.test_bad_fields import ISSUE_CASES, error_param

    client = WebRTCClient(rtc_server.url)
    await client.connect()
    cases = [(message, param) for which, message, param in ISSUE_CASES if which == "theo"]
    for message, _ in cases:
        client.send(message)
    client.send({"type": "session.configure", "partials": False})
    await client.wait_for("session.configured", 10)
    errors = client.of("error")
    assert [error_param(e)[-len(p) :] for e, (_, p) in zip(errors, cases, strict=True)] == [
        p for _, p in cases
    ]
    client.send({"type": "session.close"})
    closed = await client.wait_for("session.closed", 10)
    assert closed["reason"] == "client"
    await client.close()


async def test_hangup_endpoint(rtc_server: RunningServer) -> None:
    client = WebRTCClient(rtc_server.url)
    await client.connect()
    async with httpx.AsyncClient(base_url=rtc_server.url, timeout=30) as http:
        response = await http.post(f"/v1/realtime/calls/{client.call_id}/hangup")
        assert response.status_code == 200 and response.json()["status"] == "ended"
        await client.wait_for("session.closed", 5)
        again = await http.post(f"/v1/realtime/calls/{client.call_id}/hangup")
        assert again.status_code == 404 and again.json()["error"]["code"] == "call_not_found"
    await client.close()


OFFER_WITHOUT_AUDIO = """v=0
o=- 1 1 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0
m=application 9 UDP/DTLS/SCTP webrtc-datachannel
c=IN IP4 0.0.0.0
a=ice-ufrag:abcd
a=ice-pwd:abcdefghijklmnopqrstuvwx
a=fingerprint:sha-256 {FINGERPRINT}
a=setup:actpass
a=mid:0
a=sctp-port:5000
""".replace("{FINGERPRINT}", ":".join(["AB"] * 32))


@pytest.mark.parametrize(
    ("body", "content_type", "fragment"),
    [
        (b"", "application/sdp", "missing SDP offer"),
        (b"hello, I am not SDP", "application/sdp", "not an SDP offer"),
        (b"v=0\r\nm=audio garbage\r\nthis is broken", "application/sdp", "could not parse"),
        (b"\xff\xfe\x00garbage", "application/sdp", "not UTF-8"),
        (b"v=0\r\n" + b"a=x\r\n" * 20000, "application/sdp", "at most"),
        (b'{"sdp": 5}', "application/json", "missing SDP offer"),
        (OFFER_WITHOUT_AUDIO.replace("\n", "\r\n").encode(), "application/sdp", "no audio"),
    ],
)
async def test_bad_offers(rtc_server: RunningServer, body: bytes, content_type: str, fragment: str) -> None:
    async with httpx.AsyncClient(base_url=rtc_server.url, timeout=30) as http:
        response = await http.post("/v1/realtime/calls", content=body, headers={"content-type": content_type})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_sdp" and fragment in error["message"], error
    assert (await health(rtc_server))["sessions"] == 0


async def test_unknown_model_and_receive_only_offer(rtc_server: RunningServer) -> None:
    client = WebRTCClient(rtc_server.url)
    offer = await client.pc.createOffer()
    await client.pc.setLocalDescription(offer)
    sdp = client.pc.localDescription.sdp
    async with httpx.AsyncClient(base_url=rtc_server.url, timeout=30) as http:
        missing = await http.post("/v1/realtime/calls", params={"model": "whisper-huge-v9"}, content=sdp)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
        recvonly = await http.post("/v1/realtime/calls", content=sdp.replace("a=sendrecv", "a=recvonly"))
        assert recvonly.status_code == 400 and "receive-only" in recvonly.json()["error"]["message"]
    await client.close()
    assert (await health(rtc_server))["sessions"] == 0


async def test_fifty_offers_that_never_connect_are_freed(rtc_server: RunningServer) -> None:
    """50 offers at once, none completing ICE/DTLS: all answered, then freed by the connect timeout (3 s
    here); a real call still works meanwhile, and offers past the pending-offer budget (60 here) get a
    clear 503."""
    before = await health(rtc_server)
    threads = server_threads(rtc_server)
    client = WebRTCClient(rtc_server.url)
    offer = await client.pc.createOffer()
    await client.pc.setLocalDescription(offer)
    sdp = client.pc.localDescription.sdp
    async with httpx.AsyncClient(base_url=rtc_server.url, timeout=60) as http:
        responses = await asyncio.gather(*(http.post("/v1/realtime/calls", content=sdp) for _ in range(50)))
    assert [r.status_code for r in responses] == [201] * 50
    assert (await health(rtc_server))["sessions"] == 50
    working = await speak(rtc_server, UTTERANCES[1].path)  # other sessions are unaffected
    await working.close()
    await settle(rtc_server, before["process"]["asyncio_tasks"], threads)
    async with httpx.AsyncClient(base_url=rtc_server.url, timeout=60) as http:  # past the budget (60)
        more = await asyncio.gather(*(http.post("/v1/realtime/calls", content=sdp) for _ in range(65)))
    codes = sorted(r.status_code for r in more)
    assert codes == [201] * 60 + [503] * 5, codes
    assert {r.json()["error"]["code"] for r in more if r.status_code == 503} == {"too_many_pending_offers"}
    await client.close()
    body = await settle(rtc_server, before["process"]["asyncio_tasks"], threads)
    assert body["status"] == "ok"


async def muted_frames(server: RunningServer) -> float:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        text = (await http.get("/metrics")).text
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("theo_stt_muted_frames_total")
    )


async def test_tts_audio_reaches_the_peer_with_mute_on_speak(rtc_server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=rtc_server.url, timeout=120) as http:  # start the TTS worker
        warm = await http.post("/v1/audio/speech", json={"model": "tts-1", "input": "hi", "voice": "alloy"})
        assert warm.status_code == 200
    client = WebRTCClient(rtc_server.url)
    await client.connect()
    muted_before = await muted_frames(rtc_server)
    asked = time.monotonic()
    client.send({"type": "tts.speak", "text": "Hello from Theo. This sentence travels over WebRTC."})
    start = await client.wait_for("tts.speaking_start", 30)
    end = await client.wait_for("tts.speaking_end", 30)
    assert end["cancelled"] is False and end["audio_ms"] > 1500
    first = client.received.first_audible(after=asked)
    assert first is not None, "no audible frame arrived"
    assert first - asked < 2.0, first - asked
    # speaking_end waits for playback: by then (nearly) all of the synthesized audio has arrived
    assert client.received.audible_seconds() > 0.6 * end["audio_ms"] / 1000
    assert start["first_audio_ms"] >= 0
    assert await muted_frames(rtc_server) > muted_before  # the microphone was muted while Theo spoke
    await client.close()


async def test_tts_cancel_stops_the_audio_quickly(rtc_server: RunningServer) -> None:
    client = WebRTCClient(rtc_server.url)
    await client.connect()
    client.send({"type": "tts.speak", "text": "This is a long sentence that keeps going. " * 8})
    await client.wait_for("tts.speaking_start", 30)
    await asyncio.sleep(1.0)
    client.send({"type": "tts.cancel"})
    cancelled_at = time.monotonic()
    end = await client.wait_for("tts.speaking_end", 10)
    assert end["cancelled"] is True
    await asyncio.sleep(1.0)
    audible_after = [t for t, rms in client.received.frames if t > cancelled_at + 0.4 and rms > 0.01]
    assert not audible_after, f"{len(audible_after)} audible frames arrived > 400 ms after tts.cancel"
    await client.close()
