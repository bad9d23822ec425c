"""``python -m bench.agent``: see :mod:`bench.agent`."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

import openai
import psutil

import bench.agent
from bench.agent.parts import Microphone, Stamped, TimedSink, cpu_seconds, percentiles
from bench.evalsets import EVAL_ROOT
from tests.agent.scripted_llm import Reply, ScriptedLLM
from tests.realtime.helpers import pcm16
from theo_rtc.agent import AgentOptions, LLMEndpoint, SentenceChunker
from theo_rtc.config import TheoSettings
from theo_rtc.runtime import TheoRuntime
from theo_rtc.scheduler import Priority
from theo_rtc.session import SessionConfig
from theo_rtc.transports import Call, SessionRegistry
from theo_rtc.transports.protocol import TheoDialect
from theo_rtc.tts.service import SpeechRequest

RECORDINGS = sorted((EVAL_ROOT / "librivox_pocketsphinx_en").glob("*.wav"))
ANSWER = "Sure, I can help with that. It will be ready at eight tonight."
LONG_ANSWER = " ".join(["Let me walk you through every option we have today, one by one."] * 6)


async def open_call(
    runtime: TheoRuntime, tts: str, agent: AgentOptions | None
) -> tuple[Call, Stamped, TimedSink]:
    output, sink = Stamped(), TimedSink()
    config = SessionConfig(model="whisper-tiny.en", tts_model=tts, partials=False)
    call = Call(runtime, SessionRegistry(4), TheoDialect(), output, config, sink=sink, agent=agent)
    call.reserve()
    await call.open()
    return call, output, sink


async def idle(call: Call, within_s: float = 120) -> None:
    """Until the agent has nothing more to say (its answer played out)."""
    speaker, agent = call.speaker, call.agent
    async with asyncio.timeout(within_s):
        while speaker and (speaker.speaking or (agent and agent.responding)):  # noqa: ASYNC110 (no such event)
            await asyncio.sleep(0.05)


async def agent_turns(runtime: TheoRuntime, options: AgentOptions, tts: str, turns: int) -> dict[str, Any]:
    call, out, sink = await open_call(runtime, tts, options)
    agent = call.agent
    assert agent is not None
    sent: list[list[dict[str, Any]]] = []  # what the agent asked the LLM, per turn
    mic = Microphone(call)
    rows = []
    await asyncio.sleep(1.0)  # the session's first frames
    before, started = cpu_seconds(), time.monotonic()
    for turn in range(turns + 1):  # turn 0 warms the workers up and is not counted
        audio, _ = pcm16(RECORDINGS[turn % len(RECORDINGS)], 16_000)
        _, speech_end_at = mic.say(audio)
        end = await speech_end_at
        thinking_at = await out.state_after(end, "thinking")
        asked = agent.conversation.messages()  # what the agent sent (the caller's turn is in)
        await out.first_after(end, "agent.response.text.done")
        await idle(call)
        if turn == 0:
            before, started = cpu_seconds(), time.monotonic()
            continue
        sent.append(asked)
        vad_end = out.after(end - 1.0, "vad.speech_end")
        final = out.after(end - 1.0, "transcript.final")
        delta = out.after(end, "agent.response.text.delta")
        audio_at = next((t for t in sink.begins if t >= end), None)
        if not (final and delta and audio_at):
            continue
        rows.append(
            {
                "vad_end": vad_end[-1][0] - end if vad_end else None,
                "stt_final": final[-1][0] - end,
                "llm_first_piece": delta[0][0] - thinking_at,
                "tts_first_audio": audio_at - delta[0][0],
                "first_audio": audio_at - end,
                "first_piece": delta[0][1]["text"],
            }
        )
        await asyncio.sleep(0.5)
    wall = time.monotonic() - started
    after = cpu_seconds()
    await mic.aclose()
    await call.close()
    cores = {k: (after[k] - before[k]) / wall for k in after}
    return {"turns": rows, "sent": sent, "cores": cores, "wall_s": wall}


async def barge_ins(runtime: TheoRuntime, base_url: str, tts: str, trials: int) -> dict[str, Any]:
    options = AgentOptions(llm=LLMEndpoint(base_url, "scripted"), fillers=False, max_tokens=400)
    call, out, sink = await open_call(runtime, tts, options)
    mic = Microphone(call)
    confirmed_to_clear: list[float] = []
    speech_to_clear: list[float] = []
    failed: list[str] = []
    await asyncio.sleep(1.0)
    for trial in range(trials):
        try:
            question, _ = pcm16(RECORDINGS[trial % len(RECORDINGS)], 16_000)
            _, asked = mic.say(question)
            await out.first_after(await asked, "tts.speaking_start", within_s=60)
            await asyncio.sleep(1.5)  # the caller hears some of it, then talks over it
            interruption, _ = pcm16(RECORDINGS[(trial + 1) % len(RECORDINGS)], 16_000)
            voice_at, _ = mic.say(interruption)
            start = await voice_at - 0.5  # the VAD may hear it begin before the first frame over -40 dBFS
            started_at, _ = await out.first_after(start, "vad.speech_start", within_s=30)
            confirmed_at, _ = await out.first_after(start, "vad.speech_confirmed", within_s=30)
            await out.first_after(start, "agent.interrupted", within_s=30)
            cleared = next(t for t in sink.clears if t >= start)
            confirmed_to_clear.append(cleared - confirmed_at)
            speech_to_clear.append(cleared - started_at)
            await out.first_after(start, "agent.response.text.done", within_s=60)
        except TimeoutError as exc:  # reported, not fatal: the other trials still count
            kinds = [e["type"] for t, e in out.events[-30:]]
            failed.append(f"trial {trial}: timed out ({exc!r}); last events {kinds}")
        await idle(call)
        await asyncio.sleep(0.5)
    await mic.aclose()
    await call.close()
    return {"confirmed_to_clear": confirmed_to_clear, "speech_to_clear": speech_to_clear, "failed": failed}


async def bare_stt(runtime: TheoRuntime, tts: str) -> list[float]:
    call, out, _ = await open_call(runtime, tts, None)
    mic = Microphone(call)
    latencies = []
    await asyncio.sleep(1.0)
    for index, recording in enumerate([RECORDINGS[-1], *RECORDINGS]):  # the first one warms up
        audio, _ = pcm16(recording, 16_000)
        _, ended = mic.say(audio)
        end = await ended
        at, _ = await out.first_after(end - 1.0, "transcript.final")
        if index:
            latencies.append(at - end)
        await asyncio.sleep(1.0)
    await mic.aclose()
    await call.close()
    return latencies


async def bare_llm(endpoint: LLMEndpoint, sent: list[list[dict[str, Any]]], max_tokens: int) -> list[float]:
    client = openai.AsyncOpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=0)
    latencies = []
    try:
        for messages in sent:
            asked = time.monotonic()
            stream = await client.chat.completions.create(
                model=endpoint.model,
                messages=messages,  # type: ignore[arg-type]
                stream=True,
                max_tokens=max_tokens,
                temperature=0.7,
            )
            assert isinstance(stream, openai.AsyncStream)
            chunker, first = SentenceChunker(), None
            async with stream:
                async for chunk in stream:
                    text = chunk.choices[0].delta.content if chunk.choices else None
                    if first is None and text and chunker.push(text):
                        first = time.monotonic() - asked
            latencies.append(first if first is not None else time.monotonic() - asked)
    finally:
        await client.close()
    return latencies


async def bare_tts(runtime: TheoRuntime, tts: str, pieces: list[str]) -> list[float]:
    latencies = []
    for piece in pieces:
        asked = time.monotonic()
        stream = await runtime.speech.open(SpeechRequest(model=tts, input=piece), priority=Priority.REALTIME)
        latencies.append(time.monotonic() - asked)
        async for _ in stream:  # to the end: frees the worker's slot as the speaker would
            pass
    return latencies


async def run_config(
    runtime: TheoRuntime, llm_name: str, tts: str, turns: int, scripted: ScriptedLLM
) -> dict[str, Any]:
    if llm_name == "scripted":
        endpoint = LLMEndpoint(scripted.base_url, "scripted")
    else:
        endpoint = await runtime.llm_endpoint(llm_name)
        await bare_llm(endpoint, [[{"role": "user", "content": "Hello."}]], 8)  # warm-up
    options = AgentOptions(llm=endpoint, fillers=False, max_tokens=60, interruptions="barge-in")
    result = await agent_turns(runtime, options, tts, turns)
    rows = result["turns"]
    llm = await bare_llm(endpoint, result["sent"], 60)
    speech = await bare_tts(runtime, tts, [r["first_piece"] for r in rows])
    return {
        "llm": llm_name,
        "tts": tts,
        "agent": result | {"sent": len(result["sent"])},
        "bare_llm": llm,
        "bare_tts": speech,
    }


def report(configs: list[dict[str, Any]], stt: list[float], barge: dict[str, Any] | None) -> str:
    def ms(values: list[float], digits: int = 0) -> str:
        p = percentiles(values)
        return f"{p['p50'] * 1000:.{digits}f} / {p['p95'] * 1000:.{digits}f}" if p["n"] else "-"

    lines = [
        "| LLM | TTS | turns | first audio p50 / p95 (ms) | in the agent: VAD end, STT final, LLM first "
        "piece, TTS first audio (p50 ms) | bare: STT final + LLM first piece + TTS first audio = sum "
        "(p50 ms) | first audio − bare sum (p50 ms) | cores: theo, STT/TTS workers, LLM |",
        "|---|---|---|---|---|---|---|---|",
    ]
    bare_stt_p50 = statistics.median(stt)
    for config in configs:
        rows = config["agent"]["turns"]
        first = [r["first_audio"] for r in rows]

        def p50(key: str, rows: list[dict[str, Any]] = rows) -> float:
            values = [r[key] for r in rows if r[key] is not None]
            return statistics.median(values) * 1000 if values else float("nan")

        llm_p50 = statistics.median(config["bare_llm"]) * 1000
        tts_p50 = statistics.median(config["bare_tts"]) * 1000
        total = bare_stt_p50 * 1000 + llm_p50 + tts_p50
        cores = config["agent"]["cores"]
        lines.append(
            f"| {config['llm']} | {config['tts']} | {len(rows)} | {ms(first)} | "
            f"{p50('vad_end'):.0f}, {p50('stt_final'):.0f}, {p50('llm_first_piece'):.0f}, "
            f"{p50('tts_first_audio'):.0f} | {bare_stt_p50 * 1000:.0f} + {llm_p50:.0f} + {tts_p50:.0f} = "
            f"{total:.0f} | {statistics.median(first) * 1000 - total:.0f} | "
            f"{cores['theo']:.2f}, {cores['workers']:.2f}, {cores['llm']:.2f} |"
        )
    if barge is None:
        return "\n".join(lines)
    lines.append("")
    lines.append(
        f"Barge-in ({len(barge['confirmed_to_clear'])} trials): speech confirmed → audio cleared "
        f"{ms(barge['confirmed_to_clear'], 1)} ms (p50 / p95); the VAD's speech start → cleared "
        f"{ms(barge['speech_to_clear'])} ms; {len(barge['failed'])} trials failed."
    )
    lines.extend(barge["failed"])
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=bench.agent.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--llm", default="scripted,smollm2-135m")
    parser.add_argument("--tts", default="piper-en-joe")
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--barge-ins", type=int, default=5)
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    settings = TheoSettings(home=args.home) if args.home else TheoSettings()
    with (
        ScriptedLLM([], default=Reply(ANSWER)) as scripted,
        ScriptedLLM([], default=Reply(LONG_ANSWER)) as long,
    ):
        async with TheoRuntime(settings) as runtime:
            ttses = args.tts.split(",")
            stt = await bare_stt(runtime, ttses[0])
            configs = []
            for tts in ttses:
                for llm in args.llm.split(","):
                    configs.append(await run_config(runtime, llm, tts, args.turns, scripted))
                    print(report(configs[-1:], stt, None), flush=True)  # as it goes: a long run
                    if args.out:
                        args.out.write_text(json.dumps({"configs": configs, "bare_stt": stt}, indent=1))
            barge = await barge_ins(runtime, long.base_url, ttses[0], args.barge_ins)
    print(
        f"{psutil.cpu_count()} cores, load {' '.join(f'{x:.2f}' for x in psutil.getloadavg())}; "
        f"bare STT final after speech end: {[round(x * 1000) for x in stt]} ms"
    )
    print(report(configs, stt, barge))
    if args.out:
        args.out.write_text(json.dumps({"configs": configs, "bare_stt": stt, "barge_in": barge}, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
