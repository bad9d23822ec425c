"""The agent's tools (OpenAI function calling) on an in-process Call: a webhook tool from the operator's
tools file, a client tool answered with ``agent.tool_result``, ``end_call`` only after the goodbye has
played, and the model's mistakes (an unknown tool, arguments that are not JSON) answered, not crashed.
The scripted LLM streams its tool calls in fragments, as OpenAI does."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.agent.harness import FIRST, open_call, play_out, say, until_state
from tests.agent.scripted_llm import Calls, Reply, ScriptedLLM, Step
from theo_rtc.agent import AgentOptions, LLMEndpoint
from theo_rtc.config import TheoSettings
from theo_rtc.runtime import TheoRuntime

WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}


@pytest.fixture(scope="module")
def tools_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tools") / "tools.yaml"


@pytest.fixture(scope="module")
async def runtime(theo_home: Path, tools_file: Path) -> AsyncIterator[TheoRuntime]:
    async with TheoRuntime(TheoSettings(home=theo_home, agent_tools_file=tools_file)) as rt:
        yield rt


def write_tools(path: Path, tools: list[dict[str, Any]]) -> None:
    """The operator's tools file, read by the Call each time an agent starts."""
    path.write_text(yaml.safe_dump(tools))


def options(llm: ScriptedLLM, **changes: Any) -> AgentOptions:
    return AgentOptions(llm=LLMEndpoint(llm.base_url, "scripted"), **changes)


def messages(llm: ScriptedLLM, index: int) -> list[dict[str, Any]]:
    return list(llm.requests[index]["messages"])


async def test_a_webhook_tool_runs_and_the_answer_uses_its_result(
    runtime: TheoRuntime, tools_file: Path
) -> None:
    script: list[Step] = [
        Calls((("get_weather", '{"city": "Lisbon"}'),), text="Let me check that."),
        Reply("It is sunny in Lisbon today."),
    ]
    with ScriptedLLM(script) as llm:
        hook = {"name": "get_weather", "description": "Weather now", "parameters": WEATHER}
        write_tools(tools_file, [hook | {"url": f"http://127.0.0.1:{llm.port}/tools/get_weather"}])
        llm.tool_answers["get_weather"] = {"sky": "sunny", "celsius": 24}
        call, events, sink = await open_call(runtime, options(llm))
        say(call, FIRST)
        await until_state(events, "thinking")
        await play_out(call, sink)
        done = await events.wait_for("agent.response.text.done")

        offered = llm.requests[0]["tools"]
        assert {t["function"]["name"] for t in offered} == {"get_weather", "end_call"}
        assert llm.tool_requests == [("get_weather", {"city": "Lisbon"})], "arguments joined from fragments"
        tool_call = events.of("agent.tool_call")[0]
        assert tool_call["name"] == "get_weather" and tool_call["client"] is False
        # the second request carries the call and its result, then the answer is spoken after the first words
        second = messages(llm, 1)
        assert second[-2]["role"] == "assistant" and second[-2]["content"] == "Let me check that."
        assert second[-2]["tool_calls"][0]["function"] == {
            "name": "get_weather",
            "arguments": '{"city": "Lisbon"}',
        }
        assert second[-1] == {
            "role": "tool",
            "tool_call_id": tool_call["call_id"],
            "content": json.dumps({"sky": "sunny", "celsius": 24}, separators=(",", ":")),
        }
        assert done["text"] == "Let me check that. It is sunny in Lisbon today."
        assert len(events.of("tts.speaking_start")) == 1, "one utterance across the tool round"
        history = call.agent.conversation.turns if call.agent else []
        assert [t["role"] for t in history] == ["user", "assistant", "tool", "assistant"]
        assert history[-1]["content"] == "It is sunny in Lisbon today.", "not said twice"
        await call.close()


async def test_a_client_tool_waits_for_the_clients_result(runtime: TheoRuntime, tools_file: Path) -> None:
    write_tools(tools_file, [])
    lookup = {"name": "lookup_order", "description": "An order's status", "parameters": {"type": "object"}}
    script: list[Step] = [Calls((("lookup_order", '{"id": 42}'),)), Reply("Your order shipped yesterday.")]
    with ScriptedLLM(script) as llm:
        call, events, sink = await open_call(runtime, options(llm, tools=(lookup,), end_call_tool=False))
        say(call, FIRST)
        asked = await events.wait_for("agent.tool_call")
        assert asked["client"] is True and json.loads(asked["arguments"]) == {"id": 42}
        assert len(llm.requests) == 1, "the LLM waits for the client's result"
        await call.dispatch(json.dumps({"type": "agent.tool_result", "call_id": "nope", "output": "x"}))
        assert (await events.wait_for("error"))["param"] == "call_id"
        await call.dispatch(
            json.dumps(
                {"type": "agent.tool_result", "call_id": asked["call_id"], "output": {"status": "shipped"}}
            )
        )
        await play_out(call, sink)
        done = await events.wait_for("agent.response.text.done")
        assert done["text"] == "Your order shipped yesterday."
        assert "tools" in llm.requests[0] and [t["function"]["name"] for t in llm.requests[0]["tools"]] == [
            "lookup_order"
        ]
        assert messages(llm, 1)[-1]["content"] == json.dumps({"status": "shipped"})
        await call.close()


async def test_end_call_hangs_up_only_after_the_goodbye_has_played(
    runtime: TheoRuntime, tools_file: Path
) -> None:
    write_tools(tools_file, [])
    with ScriptedLLM([Calls((("end_call", "{}"),), text="Thanks for calling, goodbye.")]) as llm:
        call, events, sink = await open_call(runtime, options(llm))
        say(call, FIRST)
        await events.wait_for("agent.tool_call")
        await events.wait_for("tts.speaking_start")
        await sink.until(lambda: sink.awaiting_playout)
        assert not call.ended, "the goodbye has not been heard yet"
        await play_out(call, sink)
        await call.wait_ended()
        ended = await events.wait_for("agent.call_ended")
        kinds = [e["type"] for e in events.events]
        assert kinds.index("tts.speaking_end") < kinds.index("agent.call_ended")
        assert call.end_reason == "agent ended the call" and ended["reason"]
        assert len(llm.requests) == 1
        await call.close()


async def test_the_models_tool_mistakes_go_back_to_it_as_errors(
    runtime: TheoRuntime, tools_file: Path
) -> None:
    write_tools(tools_file, [])
    script: list[Step] = [
        Calls((("launch_rockets", "{}"), ("end_call", "not json"))),
        Reply("Sorry, I cannot do that."),
    ]
    with ScriptedLLM(script) as llm:
        call, events, sink = await open_call(runtime, options(llm, end_call_tool=False))
        say(call, FIRST)
        await play_out(call, sink)
        done = await events.wait_for("agent.response.text.done")
        assert done["text"] == "Sorry, I cannot do that."
        results = [m for m in messages(llm, 1) if m["role"] == "tool"]
        assert [json.loads(r["content"])["error"] for r in results] == [
            "there is no tool named 'launch_rockets'",
            "the arguments are not a JSON object: Expecting value: line 1 column 1 (char 0)",
        ]
        assert not call.ended
        await call.close()
