"""Memory beyond the sliding window: facts (name, CPF, phone, protocol numbers) kept exactly, a summary of the
turns the window let go, interrupted answers flagged, the prompt inside its token budget. The last test
drives six turns of a real agent (scripted LLM, real Piper) and checks what the LLM was sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.agent.harness import open_call, play_out
from tests.agent.scripted_llm import Reply, ScriptedLLM
from theo_rtc.agent import AgentOptions, Conversation, LLMEndpoint
from theo_rtc.agent.conversation import INTERRUPTED_MARK
from theo_rtc.agent.memory import Entities, cpf_is_valid, message_tokens
from theo_rtc.agent.options import DEFAULT_INSTRUCTIONS
from theo_rtc.config import TheoSettings
from theo_rtc.runtime import TheoRuntime

CPF = "529.982.247-25"  # check digits valid


def facts(*texts: str, caller: bool = True) -> dict[str, list[str]]:
    entities = Entities()
    for text in texts:
        entities.observe(text, caller=caller)
    return entities.values


def test_cpfs_with_and_without_punctuation() -> None:
    assert cpf_is_valid("52998224725") and not cpf_is_valid("52998224724") and not cpf_is_valid("11111111111")
    for said in (
        f"meu CPF é {CPF}",
        "meu cpf é 52998224725",
        "o CPF: 529 982 247 25, certo?",
        "it's 529.982.247-25.",  # unlabelled, but its check digits say CPF
    ):
        assert facts(said) == {"cpf": [CPF]}, said
    assert facts("CPF 123.456.789-00") == {"cpf": ["123.456.789-00"]}, "labelled: kept even if mistyped"
    assert facts("o número 123.456.789-00") == {"phone": ["123.456.789-00"]}, "unlabelled and invalid: no CPF"


def test_phone_and_protocol_numbers_and_names() -> None:
    assert facts("me liga no (11) 98765-4321 ou +55 21 3456 7890") == {
        "phone": ["(11) 98765-4321", "+55 21 3456 7890"]
    }
    assert facts("my phone number is 11987654321") == {"phone": ["11987654321"]}, "a phone, not a CPF"
    assert facts("call 555-123-4567 after six") == {"phone": ["555-123-4567"]}
    assert facts("O número do protocolo é 2024-001234, anote.") == {"protocol": ["2024-001234"]}
    assert facts("Your ticket number is AB-77812.", caller=False) == {"protocol": ["AB-77812"]}
    assert facts("protocolo 2024 5567 8890") == {"protocol": ["2024 5567 8890"]}
    assert facts("Oi, meu nome é Maria da Silva e queria ajuda.") == {"name": ["Maria da Silva"]}
    assert facts("Hello, my name is John Smith.") == {"name": ["John Smith"]}
    assert facts("me chamo João") == {"name": ["João"]}
    assert facts("My name is not important, I have 3 kids and 2 dogs.") == {}
    assert facts("My name is Theo.", caller=False) == {}, "a name is the caller's only when they say it"
    entities = Entities(per_kind=2)
    for text in ("protocol 1111", "protocol 2222", "protocol 1111", "protocol 3333"):
        entities.observe(text, caller=True)
    assert entities.values == {"protocol": ["1111", "3333"]}, "newest last, bounded"


def test_older_turns_leave_a_summary_and_the_prompt_fits_its_budget() -> None:
    conversation = Conversation("Be brief.", max_messages=40, budget_tokens=300)
    conversation.add_user(f"My name is Ana Souza and my CPF is {CPF}.")
    conversation.add_assistant("Thanks Ana. What can I do for you?")
    for i in range(30):
        conversation.add_user(f"Question number {i}: " + "tell me about the weather again " * 3)
        conversation.add_assistant(f"Answer {i}: " + "it is sunny and warm today " * 3, interrupted=i == 28)
    conversation.add_user("And my protocol?")
    messages = conversation.messages()
    assert sum(message_tokens(m) for m in messages) <= 300
    system = messages[0]["content"]
    assert system.startswith("Be brief.\n\nFacts from this call")
    assert f"caller's name: Ana Souza; CPF: {CPF}" in system, "facts outlive the turns that said them"
    summary = system.split("\n\n", 2)[2]
    assert summary.startswith("Earlier in this call (oldest first; ") and "older lines left out):" in summary
    assert message_tokens({"content": summary}) <= 300 // 4, "the summary keeps to its share"
    assert "(the caller interrupted you)" in summary or any(
        INTERRUPTED_MARK in str(m["content"]) for m in messages
    )
    window = messages[1:]
    assert window[0]["role"] == "user" and window[-1] == {"role": "user", "content": "And my protocol?"}
    assert "Question number 0:" not in str(window)
    # the lines of the summary and the window join up: nothing between them is lost
    last_line = summary.splitlines()[-1]
    first_in_window = window[0]["content"]
    number = int(first_in_window.split(":")[0].split()[-1])
    assert f"Answer {number - 1}:" in last_line, (last_line, first_in_window)


def test_a_turn_longer_than_the_budget_keeps_its_end() -> None:
    conversation = Conversation("Be brief.", max_messages=40, budget_tokens=100)
    conversation.add_user("blah " * 400 + "so what is my balance?")
    messages = conversation.messages(reserve_tokens=20)
    assert messages[1]["content"].startswith("…") and messages[1]["content"].endswith("what is my balance?")
    assert sum(message_tokens(m) for m in messages) + 20 <= 100


def test_an_interrupted_answer_is_flagged_until_its_rest_is_heard() -> None:
    conversation = Conversation("x", max_messages=40)
    conversation.add_user("hi")
    conversation.add_assistant("Let me tell you…", interrupted=True)
    assert conversation.messages()[-1] == {
        "role": "assistant",
        "content": "Let me tell you…" + INTERRUPTED_MARK,
    }
    conversation.add_assistant("the rest of it.")  # resumed after a false interruption, heard to the end
    assert conversation.messages()[-1] == {"role": "assistant", "content": "Let me tell you… the rest of it."}


@pytest.fixture(scope="module")
async def runtime(theo_home: Path) -> AsyncIterator[TheoRuntime]:
    async with TheoRuntime(TheoSettings(home=theo_home)) as rt:
        yield rt


async def test_what_the_llm_receives_after_six_turns(runtime: TheoRuntime) -> None:
    long_answer = (
        "Let me explain the plan. First we check the account. Then we confirm the payment. "
        "Finally we send you a receipt by email."
    )
    replies = [
        "Nice to meet you, Maria.",
        "I opened protocol number 2024-7781 for you.",
        long_answer,
        "The fee is ten reais.",
        "Yes, by text message.",
        "You are welcome, goodbye.",
    ]
    finals = [
        f"Hi, my name is Maria Silva and my CPF is {CPF.replace('.', ' ').replace('-', ' ')}.",
        "My card was charged twice, can you open a complaint?",
        "What happens next?",
        "Wait, is there a fee?",
        "Can you send it to my phone, (11) 98765-4321?",
        "Thanks, that is all.",
    ]
    with ScriptedLLM([Reply(r) for r in replies]) as llm:
        options = AgentOptions(llm=LLMEndpoint(llm.base_url, "scripted"), max_history_messages=4)
        call, events, sink = await open_call(runtime, options)
        agent = call.agent
        assert agent is not None
        for turn, text in enumerate(finals, 1):
            agent.on_event({"type": "transcript.final", "text": text, "segment_id": turn})
            if turn == 3:  # the caller hears one second of the long answer, then talks over it
                await events.wait_for("tts.speaking_start", 3)
                await sink.until(lambda: sink.queued_s >= 2.0)
                sink.play(1.0)
                agent.on_event({"type": "vad.speech_confirmed", "timestamp_ms": 0, "segment_id": turn})
                cut = await events.wait_for("agent.interrupted")
            else:
                await play_out(call, sink)
            await events.wait_for("agent.response.text.done", turn)
        async with asyncio.timeout(30):
            while len(llm.requests) < 6:  # noqa: ASYNC110 (the LLM's server runs in another thread)
                await asyncio.sleep(0.02)

        # turn 4: the interrupted answer is there as heard, flagged
        fourth = llm.requests[3]["messages"]
        assert {"role": "assistant", "content": cut["heard_text"] + INTERRUPTED_MARK} in fourth
        assert cut["heard_text"] and cut["heard_text"] != long_answer

        # turn 6: the window holds the last exchanges only; the rest is in the system prompt
        last = llm.requests[5]["messages"]
        assert [m["role"] for m in last] == ["system", "user", "assistant", "user"]
        assert [m["content"] for m in last[1:]] == [finals[4], replies[4], finals[5]]
        system = last[0]["content"]
        assert system.startswith(DEFAULT_INSTRUCTIONS["en"] + "\n\nFacts from this call")
        for fact in (
            "caller's name: Maria Silva",
            f"CPF: {CPF}",
            "phone: (11) 98765-4321",
            "protocol: 2024-7781",
        ):
            assert fact in system, (fact, system)
        summary = system.split("\n\n", 2)[2].splitlines()
        assert summary == [
            "Earlier in this call (oldest first):",
            f'- the caller said: "{finals[0]}"',
            f'- you said: "{replies[0]}"',
            f'- the caller said: "{finals[1]}"',
            f'- you said: "{replies[1]}"',
            f'- the caller said: "{finals[2]}"',
            f'- you said: "{cut["heard_text"]}" (the caller interrupted you)',
            f'- the caller said: "{finals[3]}"',
            f'- you said: "{replies[3]}"',
        ], summary
        await call.close()
