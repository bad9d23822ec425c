"""The voice agent's turn latency: end of the caller's speech to the agent's first audio, beside the sum of
its parts measured bare in the same run, barge-in reaction time, and CPU per call.

    .venv/bin/python -m bench.agent [--llm scripted,smollm2-135m] [--tts piper-en-joe] [--turns 10]
                                    [--barge-ins 5] [--home ~/.theo] [--out results.json]

In process, as a transport would run it: a :class:`Call` with the agent (fillers off: the first audio is
the answer's), real whisper-tiny.en, real TTS, an estimated-playout sink like the WebSocket's. A microphone
task streams 20 ms frames in real time, silence between utterances (LibriVox eval recordings), so VAD and
endpointing see a live caller. Per turn, from event timestamps: speech end (the last voiced frame pushed)
→ ``vad.speech_end`` → ``transcript.final`` → first ``agent.response.text.delta`` → the answer's first
audio at the sink. LLMs: the scripted OpenAI-compatible server of the tests (``tests/agent/scripted_llm``,
real HTTP + SSE, instant tokens: what is left is Theo's own time) and Theo's managed llama.cpp runtime with
a local model (``smollm2-135m``: the fixture model; ``qwen2.5-coder-0.5b`` is the default, when pulled).

Bare parts, same run, same models: STT (the same utterances through a call without an agent: speech end
→ final), LLM (the messages the agent sent, straight to the endpoint with the ``openai`` client: request →
first sentence/clause piece of the chunker), TTS (that first piece → first audio chunk). Barge-in: during a
long answer the caller talks (another recording); reaction = ``vad.speech_confirmed`` → the sink cleared,
and from ``vad.speech_start`` (the confirmation waits for 300 ms of voice). CPU: this process and its
worker subprocesses (psutil) over the agent phase, as cores; the LLM worker apart. Fillers are off (the
first audio is the answer's, comparable with its parts); with them on it is never later than
``filler_delay_s`` after the turn was taken.
"""
