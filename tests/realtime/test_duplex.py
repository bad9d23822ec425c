"""Full duplex on the Theo protocol: tts.speak streams audio on the same socket with mute-on-speak."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import numpy as np
import websockets

from bench.evalsets import EVAL_ROOT, wer
from tests.conftest import RunningServer
from tests.realtime.helpers import pcm16

SENTENCE = "The quick brown fox jumps over the lazy dog."


def muted_frames(metrics: str) -> float:
    match = re.search(r"^theo_stt_muted_frames_total ([0-9.e+]+)$", metrics, re.M)
    return float(match.group(1)) if match else 0.0


async def test_speak_streams_audio_and_mutes_input(server: RunningServer) -> None:
    speech, rate = pcm16(EVAL_ROOT / "librivox_pocketsphinx_en" / "goforward.wav")
    async with httpx.AsyncClient(base_url=server.url) as ac:
        muted_before = muted_frames((await ac.get("/metrics")).text)
        async with websockets.connect(
            server.url.replace("http", "ws") + f"/v1/realtime?sample_rate={rate}", max_size=None
        ) as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"
            await ws.send(json.dumps({"type": "tts.speak", "text": SENTENCE, "model": "piper-en-joe"}))
            events: list[dict] = []  # type: ignore[type-arg]
            audio = bytearray()
            sent_while_speaking = False
            while True:
                message = await asyncio.wait_for(ws.recv(), 60)
                if isinstance(message, bytes):
                    audio += message
                    if not sent_while_speaking:  # the user talks over the bot: these frames are muted
                        for i in range(0, len(speech), 640):
                            await ws.send(speech[i : i + 640])
                        sent_while_speaking = True
                    continue
                event = json.loads(message)
                events.append(event)
                if event["type"] == "tts.speaking_end":
                    break
            start = next(e for e in events if e["type"] == "tts.speaking_start")
            end = events[-1]
            assert not end["cancelled"] and end["audio_ms"] > 1000
            assert (
                len(audio) / 2 / start["sample_rate"] * 1000 == end["audio_ms"]
                or abs(len(audio) / 2 / start["sample_rate"] * 1000 - end["audio_ms"]) < 5
            )
            assert muted_frames((await ac.get("/metrics")).text) > muted_before
            # after speaking, input is live again: the same speech now transcribes
            for i in range(0, len(speech), 640):
                await ws.send(speech[i : i + 640])
            await ws.send(bytes(rate * 2))
            await ws.send(json.dumps({"type": "session.close"}))
            finals = [json.loads(m) for m in [m async for m in ws] if isinstance(m, str)]
        texts = [e["text"] for e in finals if e["type"] == "transcript.final"]
        assert len(texts) == 1 and "forward" in texts[0].lower()  # muted speech produced nothing
        # the synthesized audio is intelligible: transcribe it back
        wav = _wav(bytes(audio), start["sample_rate"])
        back = (
            await ac.post(
                "/v1/audio/transcriptions",
                data={"model": "whisper-tiny.en"},
                files={"file": ("tts.wav", wav)},
                timeout=120,
            )
        ).json()["text"]
    assert wer([SENTENCE], [back]) <= 0.2, back


async def test_speak_cancel_and_bad_requests(server: RunningServer) -> None:
    async with websockets.connect(server.url.replace("http", "ws") + "/v1/realtime", max_size=None) as ws:
        await ws.recv()

        async def next_event() -> dict:  # type: ignore[type-arg]
            while True:
                message = await asyncio.wait_for(ws.recv(), 60)
                if isinstance(message, str):
                    return json.loads(message)  # type: ignore[no-any-return]

        await ws.send(json.dumps({"type": "tts.speak", "text": ""}))
        assert (await next_event())["param"] == "text"
        await ws.send(json.dumps({"type": "tts.speak", "text": "x" * 5000}))
        assert (await next_event())["param"] == "text"
        await ws.send(json.dumps({"type": "tts.speak", "text": "hi", "speed": 9}))
        assert (await next_event())["param"] == "speed"
        await ws.send(
            json.dumps({"type": "tts.speak", "text": "hi", "voice": "no-such-voice", "model": "piper-en-joe"})
        )
        assert (await next_event())["type"] == "error"
        long_text = " ".join([SENTENCE] * 20)
        await ws.send(json.dumps({"type": "tts.speak", "text": long_text, "model": "piper-en-joe"}))
        assert (await next_event())["type"] == "tts.speaking_start"
        await ws.send(json.dumps({"type": "tts.cancel"}))
        while (event := await next_event())["type"] != "tts.speaking_end":
            pass
        assert event["cancelled"] is True


def _wav(pcm: bytes, rate: int) -> bytes:
    import io
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.frombuffer(pcm, "<i2").tobytes())
    return buffer.getvalue()
