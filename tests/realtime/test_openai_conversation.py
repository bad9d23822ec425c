"""OpenAI Realtime *conversation* sessions with the official openai SDK (``client.realtime.connect(model=
"gpt-realtime")``) against a real ``theo serve``: real speech in (LibriVox, resampled to 24 kHz), Whisper's
transcript to a scripted OpenAI-compatible LLM (``THEO_AGENT_LLM_*``), Piper's voice back as
``response.output_audio.delta``, which the server's own transcription endpoint then reads back."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import openai

from bench.evalsets import EVAL_ROOT, normalize, wer
from tests.agent.scripted_llm import Calls, Reply
from tests.conftest import RunningServer
from tests.realtime.conversation_helpers import VOICE, Held, HeldLLM, Reader, conversation_server, llm, wav
from tests.realtime.helpers import pcm16
from theo_rtc.transports.protocol.openai_conversation.codec import FORMATS

__all__ = ["conversation_server", "llm"]  # the fixtures

SPEECH = EVAL_ROOT / "librivox_pocketsphinx_en" / "goforward.wav"  # "go forward ten meters"
# no numbers, no near-homophones: Whisper reads Piper's voice of it back word for word (12 of 12 syntheses at
# 24 kHz and through G.711; "going forward ten meters" came back as "going 4 or 10 meter" once)
ANSWER = "That sounds like a good plan. Please watch your step on the way."


def sdk(server: RunningServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)


def session(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "realtime",
        "instructions": "You are a test.",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
            },
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": VOICE},
        },
    }
    return base | changes


async def send_speech(connection: Any, data: bytes, chunk: int = 9600) -> None:
    for i in range(0, len(data), chunk):
        await connection.input_audio_buffer.append(audio=base64.b64encode(data[i : i + chunk]).decode())


async def heard(server: RunningServer, audio: bytes, rate: int) -> str:
    """What Whisper (the server's REST transcription) hears in the assistant's audio."""
    result = await sdk(server).audio.transcriptions.create(
        model="whisper-1", file=("a.wav", wav(audio, rate))
    )
    return result.text


async def test_a_spoken_turn_audio_in_transcript_and_voice_out(
    conversation_server: RunningServer, llm: HeldLLM
) -> None:
    llm.queue(Reply(ANSWER))
    asked = len(llm.requests)
    speech, _ = pcm16(SPEECH, 24_000)
    async with sdk(conversation_server).realtime.connect(model="gpt-realtime") as conn:
        events = Reader(conn)
        created = await events.until("session.created")
        assert created.session.type == "realtime" and created.session.audio.input.turn_detection is not None
        await conn.session.update(session=session())  # type: ignore[arg-type]
        updated = await events.until("session.updated")
        assert updated.session.instructions == "You are a test."
        assert updated.session.audio.output.voice == VOICE
        await send_speech(conn, speech + bytes(24_000 * 2 * 2))  # the words, then 2 s of silence
        done = await events.until("response.done")
    types = events.types()
    order = [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.input_audio_transcription.completed",
        "response.created",
        "rate_limits.updated",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_audio_transcript.delta",
        "response.output_audio.delta",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    positions = [types.index(t) for t in order]
    assert positions == sorted(positions), types
    committed = events.of("input_audio_buffer.committed")[0]
    user_item = events.of("conversation.item.added")[0].item
    assert user_item.id == committed.item_id and user_item.role == "user"
    transcript = events.of("conversation.item.input_audio_transcription.completed")[0]
    assert transcript.item_id == user_item.id and "forward" in normalize(transcript.transcript)

    # the LLM got the instructions and what Whisper heard
    assert llm.requests[asked]["messages"] == [
        {"role": "system", "content": "You are a test."},
        {"role": "user", "content": transcript.transcript},
    ]
    assert done.response.status == "completed" and done.response.usage.output_tokens > 0
    (message,) = done.response.output
    assert message.role == "assistant" and message.status == "completed"
    assert message.content[0].type == "output_audio" and message.content[0].transcript == ANSWER
    deltas = "".join(e.delta for e in events.of("response.output_audio_transcript.delta"))
    assert deltas == ANSWER == events.of("response.output_audio_transcript.done")[0].transcript
    # the voice out is the answer, spoken: 24 kHz PCM16 that Whisper reads back
    audio = bytes(events.audio[message.id])
    assert len(audio) / 2 / 24_000 > 2.0
    assert wer([ANSWER], [await heard(conversation_server, audio, 24_000)]) <= 0.2


async def test_a_text_item_then_response_create_with_its_own_instructions(
    conversation_server: RunningServer, llm: HeldLLM
) -> None:
    llm.queue(Reply("Four."), Reply("It is four, as I said."))
    asked = len(llm.requests)
    async with sdk(conversation_server).realtime.connect(model="gpt-realtime") as conn:
        events = Reader(conn)
        await events.until("session.created")
        await conn.session.update(session=session(output_modalities=["text"]))  # type: ignore[arg-type]
        await events.until("session.updated")
        await conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Two plus two?"}],
            }
        )
        added = await events.until("conversation.item.added")
        assert added.item.content[0].text == "Two plus two?"
        await conn.response.create(response={"instructions": "Answer in one word."})
        done = await events.until("response.done")
        assert done.response.status == "completed"
        assert "".join(e.delta for e in events.of("response.output_text.delta")) == "Four."
        assert events.of("response.output_text.done")[0].text == "Four."
        assert not events.of("response.output_audio.delta")
        assert llm.system_prompt(asked) == "Answer in one word."

        # the next response: the session's instructions again, the whole conversation, and audio this time
        await conn.response.create(response={"output_modalities": ["audio"]})
        done = await events.until("response.done")
        assert llm.requests[asked + 1]["messages"] == [
            {"role": "system", "content": "You are a test."},
            {"role": "user", "content": "Two plus two?"},
            {"role": "assistant", "content": "Four."},
        ]
        assert done.response.output[0].content[0].transcript == "It is four, as I said."
        assert len(events.audio[done.response.output[0].id]) > 24_000  # over half a second of voice

        await conn.conversation.item.retrieve(item_id=added.item.id)
        retrieved = await events.until("conversation.item.retrieved")
        assert retrieved.item.content[0].text == "Two plus two?"
        await conn.conversation.item.delete(item_id=added.item.id)
        assert (await events.until("conversation.item.deleted")).item_id == added.item.id


async def test_a_function_call_round_trip(conversation_server: RunningServer, llm: HeldLLM) -> None:
    llm.queue(Calls((("get_weather", '{"city": "Paris"}'),)), Reply("It is sunny in Paris."))
    asked = len(llm.requests)
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    async with sdk(conversation_server).realtime.connect(model="gpt-realtime") as conn:
        events = Reader(conn)
        await events.until("session.created")
        await conn.session.update(session=session(tools=[tool], tool_choice="required"))  # type: ignore[arg-type]
        await events.until("session.updated")
        await conn.conversation.item.create(
            item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Paris?"}]}
        )
        await conn.response.create()
        done = await events.until("response.done")
        (call,) = done.response.output
        assert call.type == "function_call" and call.name == "get_weather"
        assert call.arguments == '{"city": "Paris"}' and call.status == "completed"
        arguments = events.of("response.function_call_arguments.done")[0]
        assert (arguments.call_id, arguments.arguments) == (call.call_id, call.arguments)
        assert llm.requests[asked]["tools"][0]["function"]["name"] == "get_weather"
        assert llm.requests[asked]["tool_choice"] == "required"

        await conn.conversation.item.create(
            item={"type": "function_call_output", "call_id": call.call_id, "output": '{"sky": "sunny"}'}
        )
        await events.until("conversation.item.added")
        await conn.response.create()
        done = await events.until("response.done")
        assert done.response.output[0].content[0].transcript == "It is sunny in Paris."
    messages = llm.requests[asked + 1]["messages"]
    assert messages[2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": call.call_id,
                "type": "function",
                "function": {"name": "get_weather", "arguments": call.arguments},
            }
        ],
    }
    assert messages[3] == {"role": "tool", "tool_call_id": call.call_id, "content": '{"sky": "sunny"}'}


async def test_barge_in_cancels_the_response_and_truncate_keeps_what_was_heard(
    conversation_server: RunningServer, llm: HeldLLM
) -> None:
    first = "The sea was calm and the ship sailed slowly toward the distant harbor at dawn."
    llm.queue(Held(first, "Then a storm came."), Reply("Alright, going forward."))
    llm.release.clear()
    asked = len(llm.requests)
    speech, _ = pcm16(SPEECH, 24_000)
    async with sdk(conversation_server).realtime.connect(model="gpt-realtime") as conn:
        events = Reader(conn)
        await events.until("session.created")
        await conn.session.update(session=session())  # type: ignore[arg-type]
        await events.until("session.updated")
        await conn.conversation.item.create(
            item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "A story?"}]}
        )
        await conn.response.create()
        await events.until("response.output_audio_transcript.delta")
        # the first sentence is spoken while the LLM holds the rest: the response is in progress
        await conn.response.create()
        busy = await events.until("error")
        assert busy.error.code == "conversation_already_has_active_response"
        await events.until("response.output_audio.delta")

        await send_speech(conn, speech + bytes(24_000 * 2 * 2))  # the caller talks over it
        await events.until("input_audio_buffer.speech_started")
        cancelled = await events.until("response.done")
        llm.release.set()
        assert cancelled.response.status == "cancelled"
        assert cancelled.response.status_details.reason == "turn_detected"
        (message,) = cancelled.response.output
        assert message.status == "incomplete" and message.content[0].transcript == first

        # the client played 1.5 s of it: only the words in those 1.5 s stay in the conversation. The whole
        # sentence was there before the caller spoke: Piper renders a piece as one chunk, whose deltas are
        # queued together, so its first delta arriving means all of them did
        played_s = len(events.audio[message.id]) / 2 / 24_000
        assert played_s > 2.0, played_s
        await conn.conversation.item.truncate(item_id=message.id, content_index=0, audio_end_ms=3_000_000)
        too_far = await events.until("error")
        assert too_far.error.param == "audio_end_ms" and too_far.error.code == "invalid_value"
        await conn.conversation.item.truncate(item_id=message.id, content_index=0, audio_end_ms=1500)
        truncated = await events.until("conversation.item.truncated")
        assert (truncated.item_id, truncated.audio_end_ms) == (message.id, 1500)

        # the caller's words are the next turn; the LLM sees only what was heard of the cut answer
        answer = await events.until("response.done", lambda e: e.response.status == "completed")
        assert answer.response.output[0].content[0].transcript == "Alright, going forward."
    assistant = [m for m in llm.requests[asked + 1]["messages"] if m["role"] == "assistant"]
    kept = assistant[0]["content"].rstrip("…").split()
    assert 0 < len(kept) < len(first.split()) and first.split()[: len(kept)] == kept, assistant
    assert "forward" in normalize(llm.requests[asked + 1]["messages"][-1]["content"])


async def test_g711_ulaw_in_and_out(conversation_server: RunningServer, llm: HeldLLM) -> None:
    llm.queue(Reply(ANSWER))
    ulaw = FORMATS["audio/pcmu"]
    speech, _ = pcm16(SPEECH, 8_000)
    g711 = {"type": "audio/pcmu"}
    async with sdk(conversation_server).realtime.connect(model="gpt-realtime") as conn:
        events = Reader(conn)
        await events.until("session.created")
        base = session()
        base["audio"]["input"]["format"] = g711
        base["audio"]["output"]["format"] = g711
        await conn.session.update(session=base)  # type: ignore[arg-type]
        updated = await events.until("session.updated")
        assert updated.session.audio.output.format.type == "audio/pcmu"
        await send_speech(conn, ulaw.from_pcm16(speech + bytes(8_000 * 2 * 2)), chunk=1600)
        done = await events.until("response.done")
    transcript = events.of("conversation.item.input_audio_transcription.completed")[0].transcript
    assert "forward" in normalize(transcript)
    encoded = bytes(events.audio[done.response.output[0].id])  # one byte a sample at 8 kHz
    assert len(encoded) / 8_000 > 2.0
    audio = ulaw.to_pcm16(encoded)
    assert np.abs(np.frombuffer(audio, "<i2")).max() > 1000
    assert wer([ANSWER], [await heard(conversation_server, audio, 8_000)]) <= 0.25


async def test_bad_input_gets_openai_errors_and_the_session_goes_on(
    conversation_server: RunningServer, llm: HeldLLM
) -> None:
    llm.queue(Reply("Still here."))
    async with sdk(conversation_server).realtime.connect(model="gpt-realtime") as conn:
        events = Reader(conn)
        await events.until("session.created")

        async def error_for(event: dict[str, Any]) -> Any:
            await conn.send(event)  # type: ignore[arg-type]
            return (await events.until("error")).error

        unknown = await error_for({"type": "conversation.item.explode", "event_id": "evt_1"})
        assert (unknown.type, unknown.code, unknown.param, unknown.event_id) == (
            "invalid_request_error",
            "unknown_event",
            "type",
            "evt_1",
        )
        field = await error_for({"type": "session.update", "session": {"type": "realtime", "colour": "red"}})
        assert (field.code, field.param) == ("unknown_parameter", "session.colour")
        field = await error_for({"type": "response.create", "response": {"voices": "x"}})
        assert (field.code, field.param) == ("unknown_parameter", "response.voices")
        wav_format = {"type": "realtime", "audio": {"input": {"format": {"type": "audio/wav"}}}}
        fmt = await error_for({"type": "session.update", "session": wav_format})
        assert fmt.param == "session.audio.input.format" and "audio/pcm" in fmt.message
        odd = await error_for(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(b"abc").decode()}
        )
        assert odd.code == "invalid_audio"
        not_base64 = await error_for({"type": "input_audio_buffer.append", "audio": "not base64!"})
        assert not_base64.code == "invalid_audio"
        missing = await error_for(
            {"type": "conversation.item.truncate", "item_id": "item_nope", "audio_end_ms": 5}
        )
        assert missing.code == "item_not_found"
        assert (await error_for({"type": "response.cancel"})).code == "response_cancel_not_active"
        assert (
            await error_for({"type": "input_audio_buffer.commit"})
        ).code == "input_audio_buffer_commit_empty"
        # past the 256 KiB message limit (the socket's own limit, 1 MiB, closes it: uvicorn's ws_max_size)
        big = await error_for(
            {"type": "conversation.item.create", "item": {"type": "message", "x": "y" * 2**19}}
        )
        assert big.code == "message_too_large"

        # after all that, the session still answers
        await conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Still there?"}],
            }
        )
        await conn.response.create(response={"output_modalities": ["text"]})
        done = await events.until("response.done")
        assert done.response.status == "completed"
        assert events.of("response.output_text.done")[0].text == "Still here."


async def test_the_beta_protocol_with_manual_commits(
    conversation_server: RunningServer, llm: HeldLLM
) -> None:
    """``client.beta.realtime`` (``OpenAI-Beta: realtime=v1``): beta field and event names; no server VAD,
    so the client commits the audio and asks for the response."""
    llm.queue(Reply(ANSWER))
    asked = len(llm.requests)
    speech, _ = pcm16(SPEECH, 24_000)
    # the beta client always dials wss:// unless told the WebSocket address (websocket_base_url)
    beta = openai.AsyncOpenAI(
        base_url=f"{conversation_server.url}/v1",
        websocket_base_url=conversation_server.url.replace("http://", "ws://") + "/v1",
        api_key="unused",
        max_retries=0,
    )
    async with beta.beta.realtime.connect(model="gpt-4o-realtime-preview") as conn:
        events = Reader(conn)
        await events.until("session.created")
        await conn.session.update(
            session={
                "modalities": ["text", "audio"],
                "instructions": "Beta test.",
                "voice": VOICE,
                "input_audio_format": "pcm16",
                "output_audio_format": "pcm16",
                "input_audio_transcription": {"model": "whisper-1"},
                "turn_detection": None,  # type: ignore[typeddict-item]
            }
        )
        updated = await events.until("session.updated")
        assert updated.session.turn_detection is None and updated.session.voice == VOICE
        await send_speech(conn, speech)
        await conn.input_audio_buffer.commit()
        committed = await events.until("input_audio_buffer.committed")
        await conn.response.create()  # waits for the words of the committed audio
        done = await events.until("response.done")
    types = events.types()
    assert "input_audio_buffer.speech_started" not in types  # no VAD events without turn detection
    assert "conversation.item.created" in types and "conversation.item.added" not in types
    assert "response.audio_transcript.delta" in types and "response.audio.delta" in types
    assert "response.output_audio.delta" not in types
    created = events.of("conversation.item.created")[0]
    assert created.item.id == committed.item_id
    user = llm.requests[asked]["messages"][1]
    assert user["role"] == "user" and "forward" in normalize(user["content"])
    assert llm.system_prompt(asked) == "Beta test."
    (message,) = done.response.output
    assert message.content[0].type == "audio" and message.content[0].transcript == ANSWER
    assert done.response.modalities == ["text", "audio"]


async def test_an_audio_item_is_transcribed_before_the_response(
    conversation_server: RunningServer, llm: HeldLLM
) -> None:
    llm.queue(Reply("Ten meters it is."))
    asked = len(llm.requests)
    speech, _ = pcm16(SPEECH, 24_000)
    async with sdk(conversation_server).realtime.connect(model="gpt-realtime") as conn:
        events = Reader(conn)
        await events.until("session.created")
        await conn.session.update(session=session(output_modalities=["text"]))  # type: ignore[arg-type]
        await events.until("session.updated")
        audio = base64.b64encode(speech).decode()
        await conn.conversation.item.create(
            item={"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": audio}]}
        )
        added = await events.until("conversation.item.added")
        assert added.item.content[0].type == "input_audio" and added.item.content[0].transcript is None
        await conn.response.create()  # waits for the item's words
        done = await events.until("response.done")
    completed = events.of("conversation.item.input_audio_transcription.completed")[0]
    assert completed.item_id == added.item.id and "forward" in normalize(completed.transcript)
    assert llm.requests[asked]["messages"][1] == {"role": "user", "content": completed.transcript}
    assert done.response.status == "completed"
