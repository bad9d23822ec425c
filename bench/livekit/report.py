"""The Markdown tables printed at the end (and by ``--report`` from a saved ``--json``)."""

from __future__ import annotations

from typing import Any

from bench.livekit.common import GAP_S, TRANSPORTS, TTS_MODELS, ms


def markdown(results: dict[str, Any]) -> str:
    lines: list[str] = []
    nan = float("nan")
    lat = results["mic_to_final"]
    n = lat["LiveKit"]["n"]
    lines += [
        f"Mic-to-final (ms after the last word ends; {n} LibriVox utterances, real time, interleaved)",
        "",
        "| transport | first partial p50 | final p50 | final p90 | final max | `vad.speech_end` p50 "
        "| final after it p50 | final p50 / WS |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    names = {
        "LiveKit": "LiveKit room (theo agent), `theo.events`",
        "LiveKit lk.transcription": "LiveKit room, `lk.transcription` final",
        "WebSocket": "`WS /v1/realtime`",
        "WebRTC": "WebRTC peer (`/v1/realtime/calls`)",
    }
    ws_final = lat["WebSocket"]["final_p50"]
    for key in ("LiveKit", "LiveKit lk.transcription", "WebSocket", "WebRTC"):
        row = lat[key]
        lines.append(
            f"| {names[key]} | {ms(row.get('first_partial_p50', nan))} | {ms(row['final_p50'])} "
            f"| {ms(row['final_p90'])} | {ms(row['final_max'])} | {ms(row.get('vad_end_event_p50', nan))} "
            f"| {ms(row.get('after_vad_end_p50', nan))} "
            f"| {row['final_p50'] / ws_final:.2f} |"
        )
    tts = results["tts"]
    repeats = len(tts[TTS_MODELS[0]]["LiveKit"]["runs"])
    lines += [
        "",
        f"`tts.speak` to the first audible frame at the client (ms, p50 of {repeats} after a warm-up; "
        "engine = `first_audio_ms` in `tts.speaking_start`; transport = to client - engine; events = "
        "`tts.speaking_start` at the client - engine, i.e. both message legs; voice after event = first "
        "audible frame - `tts.speaking_start` arrival)",
        "",
        "| model | transport | to client | engine | transport share | events | voice after event |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for model in TTS_MODELS:
        for name in TRANSPORTS:
            row = tts[model][name]
            lines.append(
                f"| {model} | {name} | {ms(row['to_client_p50'])} | {ms(row['engine_p50'])} "
                f"| {ms(row['transport_p50'])} | {ms(row['events_p50'])} "
                f"| {ms(row['voice_after_event_p50'])} |"
            )
    lead = ", ".join(f"{m} {ms(tts[m]['lead_in_s'])} ms" for m in TTS_MODELS)
    lines += ["", f"Leading silence before the first audible frame in the engines' audio: {lead}."]
    cpu = results["cpu"]
    lines += [
        "",
        "CPU (cores = CPU seconds per wall second; agent = `theo agent` and its worker subprocesses)",
        "",
        "| rooms | participant | agent cores/room | agent total | livekit-server | participants (bench) |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    base = cpu["no_rooms"]
    lines.append(
        f"| 0 | – | – | {base['agent']:.3f} | {base['livekit-server']:.3f} | {base['participants']:.3f} |"
    )
    for row in cpu["idle"]:
        lines.append(
            f"| {row['rooms']} | idle (silence) | {row['agent'] / row['rooms']:.3f} | {row['agent']:.3f} "
            f"| {row['livekit-server']:.3f} | {row['participants']:.3f} |"
        )
    for row in results["sustain"]["levels"]:
        lines.append(
            f"| {row['rooms']} | talking | {row['agent_cores_per_room']:.3f} | {row['agent_cores']:.3f} "
            f"| {row['livekit_server_cores']:.3f} | {row['participants_cores']:.3f} |"
        )
    sus = results["sustain"]
    base = sus["websocket_baseline"]
    lines += [
        "",
        f"Rooms sustained (one participant per room talking looped speech for {sus['talk_s']:.0f} s, "
        f"{GAP_S} s pauses; pass: p90 final ≤ {sus['bound_s']:.1f} s after speech end, every final, no "
        "frames dropped). Baseline: the same looped speech over one `WS /v1/realtime` session of `theo "
        f"serve` in the same run ({base['serve_cores']:.2f} cores for theo serve and its workers)",
        "",
        "| rooms | utterances | final p50 | final p90 | final max | p50 / WS loop | missing | drops "
        "| mic underrun | pass |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| WS loop, 1 session | {base['utterances']} | {ms(base['final_p50'])} | {ms(base['final_p90'])} "
        f"| {ms(base['final_max'])} | 1.00 | {base['missing_finals']} | {base['frames_dropped_events']} "
        "| – | – |",
    ]
    for row in sus["levels"]:
        ratio = row["final_p50"] / base["final_p50"] if base["final_p50"] else float("nan")
        lines.append(
            f"| {row['rooms']} | {row['utterances']} | {ms(row['final_p50'])} | {ms(row['final_p90'])} "
            f"| {ms(row['final_max'])} | {ratio:.2f} | {row['missing_finals']} "
            f"| {row['frames_dropped_events']} | {ms(row['mic_underrun_max_s'])} "
            f"| {'yes' if row['passed'] else 'no'} |"
        )
    lines += ["", f"Rooms sustained on this machine: **{sus['sustained']}**"]
    if results.get("redispatches"):
        lines += [
            "",
            f"Dispatches that got no session within 15 s and were sent again: {results['redispatches']}",
        ]
    lines += [
        "",
        "Load during the run (sampled every second; others = cores busy outside this benchmark's processes)",
        "",
        "| phase | seconds | load avg (1 min) mean / max | cores busy | ours | others |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for phase, row in results["load"].items():
        lines.append(
            f"| {phase} | {row['seconds']:.0f} | {row['load1_mean']:.2f} / {row['load1_max']:.2f} "
            f"| {row['busy_cores']:.2f} | {row['ours_cores']:.2f} | {row['others_cores']:.2f} |"
        )
    return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
