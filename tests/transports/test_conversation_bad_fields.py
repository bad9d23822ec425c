"""OpenAI conversation sessions: any one wrong field of a client event gets exactly one ``error`` event and
the call goes on (property-based, hypothesis), in-process through :meth:`Call.dispatch` as the WebSocket
uses it. The session has no LLM: no wrong message may start a response."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.transports.test_bad_fields import _containers, _json, _nested, _not_number, _not_str
from tests.transports.test_call import Events, runtime
from theo_rtc.runtime import TheoRuntime
from theo_rtc.session import SessionConfig
from theo_rtc.transports import Call, SessionRegistry
from theo_rtc.transports.protocol.openai_conversation import OpenAIConversationDialect

__all__ = ["runtime"]  # the fixture, shared with test_call

_not_text = st.booleans() | st.integers() | st.floats(allow_nan=False) | _containers
_not_bool = st.integers() | st.text(max_size=5) | _containers
_not_list = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(min_size=1, max_size=5)
    | st.dictionaries(st.text(max_size=3), _json, min_size=1, max_size=2)
)

SESSION: dict[tuple[str, ...], st.SearchStrategy[Any]] = {
    ("type",): _json.filter(lambda v: v not in ("realtime", None)),
    ("instructions",): _not_text,
    ("output_modalities",): _not_list | st.just([]) | st.just(["video"]),
    ("audio", "input", "format"): _not_text.filter(lambda v: not isinstance(v, dict))
    | st.just({"type": "audio/wav"})
    | st.just({"type": "audio/pcm", "rate": 16000}),
    ("audio", "output", "format", "type"): st.text(max_size=12).filter(
        lambda s: s not in ("audio/pcm", "audio/pcmu", "audio/pcma")
    ),
    ("audio", "output", "voice"): st.booleans() | st.integers() | st.lists(_json) | st.just({"name": "x"}),
    ("audio", "output", "speed"): _not_number | st.floats(max_value=0.2) | st.floats(min_value=1.6),
    ("audio", "input", "turn_detection"): (st.booleans() | st.integers() | st.text(max_size=8))
    | st.just({"type": "push_to_talk"}),
    ("audio", "input", "turn_detection", "create_response"): _not_bool,
    ("audio", "input", "transcription", "model"): st.integers() | st.just("tts-1") | _containers,
    ("tools",): _not_list | st.just([{"type": "mcp"}]) | st.just([{"type": "function", "name": "bad name"}]),
    ("tool_choice",): st.text(max_size=8).filter(lambda s: s not in ("auto", "none", "required")),
    ("temperature",): _not_number,
    ("max_output_tokens",): st.integers(max_value=0) | st.integers(min_value=4097) | st.text(max_size=3),
    ("colour",): _json,
}
ITEM: dict[str, st.SearchStrategy[Any]] = {
    "type": st.text(max_size=12).filter(
        lambda s: s not in ("message", "function_call", "function_call_output")
    ),
    "role": st.text(max_size=8).filter(lambda s: s not in ("user", "assistant", "system")),
    "content": _not_list
    | st.just([])
    | st.just([{"type": "input_image"}])
    | st.just([{"type": "input_text"}]),
    "id": _not_text.filter(lambda v: v is not None) | st.just("i" * 65) | st.just(""),
    "extra": _json,
}
RESPONSE: dict[str, st.SearchStrategy[Any]] = {
    "instructions": _not_text.filter(lambda v: v is not None),
    "output_modalities": _not_list.filter(lambda v: v is not None) | st.just(["video"]),
    "tools": _not_list,
    "conversation": st.text(max_size=8).filter(lambda s: s not in ("auto", "none")),
    "temperature": _not_number.filter(lambda v: v is not None),
    "metadata": _not_text.filter(lambda v: v is not None and not isinstance(v, dict)),
    "voices": _json,
}


def _one(fields: dict[Any, st.SearchStrategy[Any]]) -> st.SearchStrategy[tuple[Any, Any]]:
    return st.sampled_from(sorted(fields, key=str)).flatmap(lambda f: st.tuples(st.just(f), fields[f]))


_user_text = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
messages = st.one_of(
    _one(SESSION).map(lambda pv: {"type": "session.update", "session": {"type": "realtime", **_nested(*pv)}}),
    _one(ITEM).map(lambda fv: {"type": "conversation.item.create", "item": _user_text | {fv[0]: fv[1]}}),
    _one(RESPONSE).map(lambda fv: {"type": "response.create", "response": {fv[0]: fv[1]}}),
    st.sampled_from(["conversation.item.delete", "conversation.item.retrieve", "conversation.item.truncate"])
    .flatmap(lambda t: st.tuples(st.just(t), _json))
    .map(lambda tv: {"type": tv[0], "item_id": tv[1], "audio_end_ms": 10}),
    (_not_str.filter(lambda v: v is not None) | st.just("!!!") | st.just("AA==")).map(
        lambda v: {"type": "input_audio_buffer.append", "audio": v}
    ),
    st.just({"type": "response.cancel"}),
    st.text(max_size=30).map(lambda t: {"type": t}).filter(lambda m: m["type"] != "input_audio_buffer.clear"),
)


@pytest.mark.parametrize("beta", [False, True])
async def test_property_one_wrong_field_one_error_event(runtime: TheoRuntime, beta: bool) -> None:
    events = Events()
    installed = {m.name for m in runtime.store.list() if m.manifest.type == "stt"}
    dialect = OpenAIConversationDialect("whisper-tiny.en", installed, beta=beta)
    config = SessionConfig(model="whisper-tiny.en", sample_rate=24_000)
    sink = dialect.audio_sink(events)  # type: ignore[arg-type]  # an in-process output: send_raw is all it uses
    call = Call(runtime, SessionRegistry(4), dialect, events, config, sink=sink)
    call.reserve()
    await call.open()
    loop = asyncio.get_running_loop()
    seen: list[str] = []

    def dispatch(message: dict[str, Any]) -> list[dict[str, Any]]:
        before = len(events.events)
        asyncio.run_coroutine_threadsafe(call.dispatch(json.dumps(message)), loop).result(30)
        return events.events[before:]

    @settings(
        max_examples=200,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(messages)
    def one_wrong_field(message: dict[str, Any]) -> None:
        new = dispatch(message)
        seen.append(str(message)[:80])
        errors = [e for e in new if e["type"] == "error"]
        assert len(errors) == 1, (message, new)
        assert "error" in errors[0] and errors[0]["error"]["message"], errors  # OpenAI's shape
        assert not call.ended and not call.session.closed, message
        assert not dialect.responses.active, message

    await asyncio.to_thread(one_wrong_field)
    assert len(seen) >= 150
    await call.dispatch(json.dumps({"type": "input_audio_buffer.clear"}))
    await events.wait_for("input_audio_buffer.cleared", 1)  # the session still answers
    await call.close()
