"""WebRTC: mic-to-final-transcript latency (beside the WebSocket on the same files, same run), TTS-to-peer
latency, and CPU per peer.

    .venv/bin/python -m bench.webrtc [--peers 1,4,8] [--jitter-frames 1]

The peer is aiortc (bench/webrtc_client.py), on 127.0.0.1 only. Latency uses the forced-aligned word
times in librivox_pocketsphinx_en/word_times.json: first partial after the first word ends, final after
the last word ends; the microphone track starts sending the utterance within one 20 ms frame of play().
TTS: from sending ``tts.speak`` on the data channel to the first audible 20 ms frame decoded by the peer,
with the engine's own time-to-first-audio (``first_audio_ms`` in ``tts.speaking_start``) beside it.
CPU: the server process (WebRTC, Opus, session core; workers are separate processes and listed apart)
over a window in which every peer streams speech in and receives Opus (silence or TTS) back.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.evalsets import EVAL_ROOT, load_set
from bench.harness import start_server
from bench.webrtc_client import WebRTCClient
from tests.realtime.helpers import pcm16, stream_file

SENTENCE = "Your table for four is booked for eight o'clock tonight."
TTS_MODELS = ("kokoro-82m", "piper-en-joe", "espeak-ng")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime in clock ticks (100 Hz)


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f}" if values else "n/a"


async def one_webrtc(url: str, path: Path, words: list[dict[str, float]]) -> tuple[float, float, float]:
    """(first partial after first word end, final after last word end, final after vad.speech_end)."""
    client = WebRTCClient(url)
    await client.connect()
    data, rate = pcm16(path)
    started = time.monotonic()
    await client.play(data + bytes(int(rate * 1.5) * 2), rate)
    await client.wait_for("transcript.final", 60)
    partial = client.time_of("transcript.partial") or float("nan")
    final = client.time_of("transcript.final") or float("nan")
    vad_end = client.time_of("vad.speech_end") or float("nan")
    await client.close()
    return partial - started - words[0]["end"], final - started - words[-1]["end"], final - vad_end


async def one_websocket(url: str, path: Path, words: list[dict[str, float]]) -> tuple[float, float, float]:
    result = await stream_file(url.replace("http://", "ws://"), path, speed=1.0, tail_silence_s=1.5)
    partial = result.first_time("transcript.partial")
    final = result.first_time("transcript.final")
    vad_end = result.first_time("vad.speech_end")
    return partial - words[0]["end"], final - words[-1]["end"], final - vad_end


async def latency(url: str) -> dict[str, dict[str, str]]:
    word_times = json.loads((EVAL_ROOT / "librivox_pocketsphinx_en" / "word_times.json").read_text())
    utterances = [u for u in load_set("librivox_pocketsphinx_en") if u.id in word_times]
    out = {}
    for name, run in (("WebRTC", one_webrtc), ("WebSocket", one_websocket)):
        rows = [await run(url, u.path, word_times[u.id]) for u in utterances]
        out[name] = {
            "first partial": _ms([r[0] for r in rows]),
            "final": _ms([r[1] for r in rows]),
            "final max": f"{max(r[1] for r in rows) * 1000:.0f}",
            "after VAD end": _ms([r[2] for r in rows]),
        }
    return out


async def tts_latency(url: str, repeats: int = 3) -> dict[str, dict[str, str]]:
    out = {}
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        for model in TTS_MODELS:  # warm each worker: the first request starts it
            await http.post(
                "/v1/audio/speech", json={"model": model, "input": "hello", "response_format": "pcm"}
            )
    for model in TTS_MODELS:
        client = WebRTCClient(url)
        await client.connect()
        client.send({"type": "session.configure", "tts_model": model})
        await client.wait_for("session.configured", 10)
        to_peer, engine = [], []
        for _ in range(repeats):
            asked = time.monotonic()
            client.send({"type": "tts.speak", "text": SENTENCE})
            start = await client.wait_for("tts.speaking_start", 30, after=asked)
            await client.wait_for("tts.speaking_end", 60, after=asked)
            first = client.received.first_audible(after=asked)
            if first is not None:
                to_peer.append(first - asked)
            engine.append(start["first_audio_ms"] / 1000)
        await client.close()
        out[model] = {"to peer": _ms(to_peer), "engine": _ms(engine)}
    return out


async def cpu_per_peer(url: str, pids: list[int], peers: int, seconds: float = 12.0) -> dict[str, float]:
    utterances = load_set("librivox_pocketsphinx_en")
    clients = [WebRTCClient(url) for _ in range(peers)]
    await asyncio.gather(*(c.connect() for c in clients))
    audio = [pcm16(utterances[i % len(utterances)].path) for i in range(peers)]

    async def talk(client: WebRTCClient, data: bytes, rate: int) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            await client.play(data + bytes(rate), rate)  # speech, half a second of silence, again

    server_before = _cpu_seconds(pids[0])
    workers_before = sum(_cpu_seconds(p) for p in pids[1:])
    started = time.monotonic()
    await asyncio.gather(*(talk(c, d, r) for c, (d, r) in zip(clients, audio, strict=True)))
    wall = time.monotonic() - started
    server = (_cpu_seconds(pids[0]) - server_before) / wall
    workers = (sum(_cpu_seconds(p) for p in pids[1:]) - workers_before) / wall
    await asyncio.gather(*(c.close() for c in clients))
    # idle calls: connected, silence both ways (what an open tab costs)
    clients = [WebRTCClient(url) for _ in range(peers)]
    await asyncio.gather(*(c.connect() for c in clients))
    await asyncio.sleep(1.0)
    before = _cpu_seconds(pids[0])
    await asyncio.sleep(seconds / 2)
    idle = (_cpu_seconds(pids[0]) - before) / (seconds / 2)
    await asyncio.gather(*(c.close() for c in clients))
    return {"server": server / peers, "workers": workers / peers, "idle": idle / peers}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--peers", default="1,4,8")
    parser.add_argument("--jitter-frames", type=int, default=1)
    parser.add_argument("--home", type=Path, default=Path(".cache/theo-test-home"))
    args = parser.parse_args()
    env = {"THEO_WEBRTC_ICE_HOSTS": '["127.0.0.1"]', "THEO_WEBRTC_JITTER_FRAMES": str(args.jitter_frames)}
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(args.home, Path(tmp) / "server.log", preload=("whisper-tiny.en",), env=env)
        try:
            ps = httpx.get(f"{server.url}/api/ps").json()["models"]
            pids = [server.process.pid] + [w["pid"] for w in ps if w["pid"]]
            asyncio.run(one_webrtc(server.url, load_set("librivox_pocketsphinx_en")[1].path, [{"end": 0}]))
            print(f"WebRTC over 127.0.0.1, aiortc peer, jitter buffer {args.jitter_frames} frame(s), 2 cores")
            print("\nSTT, whisper-tiny.en, librivox_pocketsphinx_en at real-time pace (ms, p50 over 5 files)")
            lat = asyncio.run(latency(server.url))
            columns = ("first partial", "final", "final max", "after VAD end")
            print(f"{'':>10} " + " ".join(f"{c:>14}" for c in columns))
            for name, row in lat.items():
                print(f"{name:>10} " + " ".join(f"{row[c]:>14}" for c in columns))
            print("\nTTS: tts.speak on the data channel -> first audible frame at the peer (ms, p50 of 3)")
            for model, row in asyncio.run(tts_latency(server.url)).items():
                engine = f"{row['engine']} of it is the engine's first audio"
                print(f"{model:>14}: {row['to peer']:>5} to peer ({engine})")
            ps = httpx.get(f"{server.url}/api/ps").json()["models"]
            pids = [server.process.pid] + [w["pid"] for w in ps if w["pid"]]
            print("\nCPU per peer (fraction of one core)")
            print("talking = speech in + Opus out; idle = silence both ways, server process only")
            print(f"{'peers':>6} {'server':>8} {'workers':>8} {'idle':>8}")
            for peers in (int(n) for n in args.peers.split(",")):
                r = asyncio.run(cpu_per_peer(server.url, pids, peers))
                print(f"{peers:>6} {r['server']:>8.3f} {r['workers']:>8.3f} {r['idle']:>8.3f}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
