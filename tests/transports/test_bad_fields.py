"""Every bad field gets an ``error`` event and the call stays up (issue 14, finding 6), in-process through
the one message path every transport uses (:meth:`Call.dispatch`, and :meth:`Call.post` as the WebRTC data
channel and LiveKit use it), on both dialects; then a property-based test (hypothesis) over client events
with one wrong field each. And a session used for speech only is not closed as "no audio"."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.transports.test_call import TTS_MODEL, Events, ListenerSink, runtime
from theo_rtc.runtime import TheoRuntime
from theo_rtc.session import SessionConfig
from theo_rtc.session.state import SessionState, Timeouts
from theo_rtc.transports import Call, SessionRegistry
from theo_rtc.transports.protocol import Dialect, OpenAIDialect, TheoDialect
from theo_rtc.transports.protocol.openai_transcription import OPENAI_RATE

__all__ = ["runtime"]  # the fixture, shared with test_call

LONG_NAME = "m" * 300


async def open_dialect_call(
    runtime: TheoRuntime, dialect: str, *, timeouts: Timeouts | None = None
) -> tuple[Call, Events]:
    events = Events()
    chosen: Dialect
    if dialect == "openai":
        installed = {m.name for m in runtime.store.list() if m.manifest.type == "stt"}
        chosen = OpenAIDialect("whisper-tiny.en", installed)
        config = SessionConfig(model="whisper-tiny.en", sample_rate=OPENAI_RATE)
    else:
        chosen = TheoDialect()
        config = SessionConfig(model="whisper-tiny.en", tts_model=TTS_MODEL)
    sink = ListenerSink(events) if dialect == "theo" else None
    call = Call(runtime, SessionRegistry(4), chosen, events, config, sink=sink, timeouts=timeouts)
    call.reserve()
    await call.open()
    return call, events


def openai_update(**session: Any) -> dict[str, Any]:
    return {"type": "session.update", "session": {"type": "transcription", **session}}


def audio_input(**fields: Any) -> dict[str, Any]:
    return {"audio": {"input": fields}}


# The issue's list, and their neighbours: (dialect, message, the param the error names)
ISSUE_CASES = [
    ("openai", openai_update(**audio_input(format={"type": "audio/pcm", "rate": "abc"})), "rate"),
    ("openai", openai_update(**audio_input(transcription={"model": LONG_NAME})), "model"),
    ("openai", openai_update(**audio_input(transcription={"model": ["whisper-1"]})), "model"),
    (
        "openai",
        openai_update(**audio_input(turn_detection={"type": "server_vad", "threshold": {}})),
        "threshold",
    ),
    (
        "openai",
        openai_update(**audio_input(turn_detection={"silence_duration_ms": "long"})),
        "silence_duration_ms",
    ),
    ("openai", openai_update(audio="pcm"), "session.audio"),
    ("openai", openai_update(**audio_input(transcription={"language": 7})), "language"),
    (
        "openai",
        {"type": "transcription_session.update", "session": {"input_audio_transcription": [1]}},
        "transcription",
    ),
    ("theo", {"type": "session.configure", "model": LONG_NAME}, "model"),
    ("theo", {"type": "session.configure", "sample_rate": "abc"}, "sample_rate"),
    ("theo", {"type": "session.configure", "hot_words": "PIX"}, "hot_words"),
    ("theo", {"type": "tts.speak", "text": "hi", "sample_rate": "abc"}, "sample_rate"),
    ("theo", {"type": "tts.speak", "text": "hi", "language": 7}, "language"),
    ("theo", {"type": "tts.speak", "text": "hi", "model": LONG_NAME}, "model"),
    ("theo", {"type": "tts.speak", "text": "hi", "speed": {}}, "speed"),
]


def error_param(event: dict[str, Any]) -> str:
    detail = event.get("error", event)  # OpenAI nests it, Theo does not
    return str(detail.get("param") or "")


@pytest.mark.parametrize("dialect", ["theo", "openai"])
async def test_the_issues_wrong_fields_get_errors_and_the_call_goes_on(
    runtime: TheoRuntime, dialect: str
) -> None:
    call, events = await open_dialect_call(runtime, dialect)
    cases = [(message, param) for which, message, param in ISSUE_CASES if which == dialect]
    for message, param in cases:
        before = len(events.of("error"))
        await call.dispatch(json.dumps(message))
        errors = events.of("error")[before:]
        assert len(errors) == 1, (message, events.events[-3:])
        assert error_param(errors[0]).endswith(param), (message, errors)
        assert not call.ended and not call.session.closed, message
    # still serving: a good message is answered
    good = openai_update(**audio_input(format={"type": "audio/pcm", "rate": 16000}))
    await call.dispatch(
        json.dumps(good if dialect == "openai" else {"type": "session.configure", "partials": False})
    )
    await events.wait_for("session.configured", 1)
    await call.close()


async def test_the_data_channel_path_survives_wrong_fields(runtime: TheoRuntime) -> None:
    """``post`` is how the WebRTC data channel (and LiveKit) hands messages over; a message that raised
    anything but a TheoError used to kill the consumer task, and with it the whole call."""
    call, events = await open_dialect_call(runtime, "theo")
    peer_gone = asyncio.Event()
    serving = asyncio.create_task(call.run(peer_gone.wait()))
    for _, message, _ in [case for case in ISSUE_CASES if case[0] == "theo"]:
        call.post(json.dumps(message))
    call.post(json.dumps({"type": "session.configure", "partials": False}))
    await events.wait_for("session.configured", 1)
    assert len(events.of("error")) == sum(case[0] == "theo" for case in ISSUE_CASES), events.of("error")
    assert not call.ended and not serving.done()
    peer_gone.set()
    await serving
    await call.close()


# --- property: any one wrong field -> one error event, the call goes on -----------------------------------
_json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
_json = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
_containers = st.lists(_json, max_size=3) | st.dictionaries(st.text(max_size=5), _json, max_size=3)
_not_str = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _containers


def _numeric(text: str) -> bool:
    try:
        float(text.replace("_", ""))
    except ValueError:
        return False
    return True


_not_number = st.text(max_size=20).filter(lambda s: not _numeric(s)) | _containers
_too_long = st.text(min_size=256, max_size=400, alphabet="abcxyz-._")
_not_installed = st.text(min_size=1, max_size=40).filter(
    lambda s: s not in ("whisper-tiny.en", "whisper-base")
)


_BOOLS = {"true", "false", "yes", "no", "on", "off", "t", "f", "y", "n", "1", "0"}


def _not_int_in(low: int, high: int) -> st.SearchStrategy[Any]:
    out_of_range = st.integers(max_value=low - 1) | st.integers(min_value=high + 1)
    return _not_number | out_of_range | st.floats(allow_nan=False).filter(lambda f: not f.is_integer())


# session.configure: each field with values it can never take (a right one would change the session)
THEO_CONFIGURE: dict[str, st.SearchStrategy[Any]] = {
    "model": _not_str.filter(lambda v: v is not None) | _too_long | _not_installed,
    "language": st.booleans() | st.integers() | _containers,
    "sample_rate": _not_int_in(8_000, 192_000),
    "vad_sensitivity": _not_str | st.sampled_from(["loud", "HIGH", ""]),
    "turn_detection": _containers
    | st.text(min_size=3, max_size=10).filter(lambda s: s.strip().lower() not in _BOOLS),
    "min_silence_ms": _not_int_in(100, 5_000),
    "preroll_ms": _not_int_in(0, 2_000),
    "partial_interval_ms": _not_int_in(100, 5_000),
    "hot_words": _not_str.filter(lambda v: not isinstance(v, list) or any(not isinstance(i, str) for i in v))
    | st.just([f"w{i}" for i in range(201)])
    | st.just([",".join(f"w{i}" for i in range(300))]),
    "prompt": st.booleans() | st.integers() | _containers,
    "domain": st.text(max_size=10).filter(lambda s: s not in ("banking", "telecom", "generic")) | _containers,
    "tts_model": st.booleans() | st.integers() | _containers,
    "no_such_field": _json,
}
TTS_SPEAK: dict[str, st.SearchStrategy[Any]] = {
    "text": _not_str | st.just("   ") | st.just("x" * 4097),
    "model": _not_str.filter(lambda v: v is not None) | _too_long,
    "voice": _not_str.filter(lambda v: v is not None),
    "language": _not_str.filter(lambda v: v is not None),
    "request_id": _not_str.filter(lambda v: v is not None),
    "speed": _not_number | st.booleans() | st.floats(max_value=0.24) | st.floats(min_value=4.01),
    "sample_rate": _not_int_in(8_000, 192_000).filter(lambda v: v not in (None, 0)),
}


def _nested(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    for key in reversed(path):
        value = {key: value}
    return value  # type: ignore[no-any-return]


OPENAI_SESSION: dict[tuple[str, ...], st.SearchStrategy[Any]] = {
    ("type",): _json.filter(lambda v: v != "transcription"),
    ("audio",): st.booleans().filter(bool)
    | st.integers().filter(bool)
    | st.text(min_size=1)
    | st.lists(_json, min_size=1),
    ("audio", "input"): st.booleans().filter(bool)
    | st.integers().filter(bool)
    | st.text(min_size=1)
    | st.lists(_json, min_size=1),
    ("audio", "input", "format", "rate"): _not_int_in(8_000, 192_000).filter(lambda v: v is not None),
    ("audio", "input", "format", "type"): st.text(max_size=20).filter(lambda s: s != "audio/pcm")
    | _containers,
    ("audio", "input", "transcription", "model"): (
        _not_str.filter(lambda v: v is not None) | _too_long | _not_installed
    ).filter(
        lambda v: (
            v not in ("", [], {}, 0, False)
            and v
            not in ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "gpt-4o-transcribe-latest")
        )
    ),
    ("audio", "input", "transcription", "language"): st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | _containers,
    ("audio", "input", "transcription", "prompt"): st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | _containers,
    ("audio", "input", "turn_detection"): (
        st.booleans() | st.integers() | st.text(max_size=10) | st.lists(_json)
    ).filter(lambda v: v != "keep"),
    ("audio", "input", "turn_detection", "threshold"): _not_number
    | st.booleans()
    | st.floats(max_value=-0.01)
    | st.floats(min_value=1.01),
    ("audio", "input", "turn_detection", "silence_duration_ms"): _not_int_in(100, 5_000),
    ("audio", "input", "turn_detection", "prefix_padding_ms"): _not_int_in(0, 2_000),
}


def _wrong(fields: dict[Any, st.SearchStrategy[Any]]) -> st.SearchStrategy[tuple[Any, Any]]:
    return st.sampled_from(sorted(fields, key=str)).flatmap(lambda f: st.tuples(st.just(f), fields[f]))


theo_messages = st.one_of(
    _wrong(THEO_CONFIGURE).map(lambda fv: {"type": "session.configure", fv[0]: fv[1]}),
    _wrong(TTS_SPEAK).map(lambda fv: {"type": "tts.speak", "text": "Hello.", **{fv[0]: fv[1]}}),
    st.text(max_size=30)
    .filter(
        lambda t: (
            t
            not in (
                "session.configure",
                "tts.speak",
                "tts.cancel",
                "session.close",
                "session.cancel",
                "input_audio_buffer.commit",
                "input_audio_buffer.clear",
            )
        )
    )
    .map(lambda t: {"type": t}),
)
openai_messages = st.one_of(
    _wrong(OPENAI_SESSION).map(
        lambda pv: {"type": "session.update", "session": {"type": "transcription", **_nested(pv[0], pv[1])}}
    ),
    _not_str.filter(lambda v: not isinstance(v, dict)).map(
        lambda v: {"type": "session.update", "session": v}
    ),
    (_not_str.filter(lambda v: v is not None) | st.just("!!!") | st.just("AA==")).map(
        lambda v: {"type": "input_audio_buffer.append", "audio": v}
    ),
    st.text(max_size=30)
    .filter(lambda t: not t.startswith(("session.", "transcription_session.", "input_audio_buffer.")))
    .map(lambda t: {"type": t}),
)
not_events = st.one_of(
    _json.filter(lambda v: not isinstance(v, dict)),
    st.dictionaries(st.text(max_size=5).filter(lambda k: k != "type"), _json, max_size=3),
)


@pytest.mark.parametrize("dialect", ["theo", "openai"])
async def test_property_one_wrong_field_one_error_event(runtime: TheoRuntime, dialect: str) -> None:
    call, events = await open_dialect_call(runtime, dialect)
    loop = asyncio.get_running_loop()
    strategy = (theo_messages if dialect == "theo" else openai_messages) | not_events.map(
        lambda v: {"raw": v}
    )
    seen: list[str] = []

    def dispatch(message: Any) -> list[dict[str, Any]]:
        text = (
            json.dumps(message["raw"])
            if isinstance(message, dict) and "raw" in message
            else json.dumps(message)
        )
        before = len(events.events)
        asyncio.run_coroutine_threadsafe(call.dispatch(text), loop).result(30)
        return events.events[before:]

    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(strategy)
    def one_wrong_field(message: dict[str, Any]) -> None:
        new = dispatch(message)
        seen.append(str(message)[:80])
        errors = [e for e in new if e["type"] == "error"]
        assert len(errors) == 1, (message, new)
        assert not call.ended and not call.session.closed, message
        assert not (call.speaker is not None and call.speaker.speaking), message

    for which, message, _ in ISSUE_CASES:  # the issue's own cases are always among the examples
        if which == dialect:
            one_wrong_field = example(message)(one_wrong_field)
    await asyncio.to_thread(one_wrong_field)
    assert len(seen) >= 100
    await call.dispatch(json.dumps({"type": "input_audio_buffer.clear"}))
    await events.wait_for("input_audio_buffer.cleared", 1)  # the session still answers
    await call.close()


# --- a session used for speech only ------------------------------------------------------------------------
async def _ticks(call: Call, count: int) -> None:
    """Wait until the session's ticker has looked at its timeouts ``count`` more times."""
    state = call.session.state
    seen = 0
    original: Callable[[], Any] = state.expired
    arrived = asyncio.Event()

    def counting() -> Any:
        nonlocal seen
        seen += 1
        arrived.set()
        return original()

    state.expired = counting  # type: ignore[method-assign]
    try:
        async with asyncio.timeout(60):
            while seen < count:
                arrived.clear()
                await arrived.wait()
    finally:
        state.expired = original  # type: ignore[method-assign]


SHORT = Timeouts(init_s=0.3, silence_s=0.3, hold_s=60.0)


async def test_a_session_that_only_speaks_is_not_closed_as_no_audio(runtime: TheoRuntime) -> None:
    # the control: with no audio and no speech, the short INIT timeout does close it
    idle, idle_events = await open_dialect_call(runtime, "theo", timeouts=SHORT)
    closed = await idle_events.wait_for("session.closed")
    assert closed["reason"] == "no audio received"
    await idle.close()

    call, events = await open_dialect_call(runtime, "theo", timeouts=SHORT)
    sink = call.sink
    assert isinstance(sink, ListenerSink)
    await call.dispatch(
        json.dumps({"type": "tts.speak", "text": "Hello there, this is Theo speaking to you."})
    )
    await events.wait_for("tts.speaking_start")
    await sink.until(lambda: sink.awaiting_playout)
    # nothing played yet: the session speaks for many times its timeouts, and stays
    await asyncio.sleep(4 * SHORT.init_s)
    await _ticks(call, 4)
    assert not call.session.closed and not events.of("session.closed")
    assert call.session.state.state == SessionState.SILENCE  # speaking ended INIT
    while call.speaker is not None and call.speaker.speaking:
        sink.play(0.5)
        await asyncio.sleep(0.02)
    await events.wait_for("tts.speaking_end")
    # quiet again: SILENCE -> HOLD after its timeout; HOLD's (60 s) keeps it open
    await _ticks(call, 4)
    await asyncio.sleep(2 * SHORT.silence_s)
    await _ticks(call, 2)
    assert call.session.state.state == SessionState.HOLD and not call.session.closed
    await call.close()
