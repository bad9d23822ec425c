"""LiveKit (issue 9): Theo as a room agent beside Theo's own WebSocket and WebRTC transports, one run.

    .venv/bin/python -m bench.livekit [--quick] [--json PATH] [--levels 1,2,4,6,8] [--bound 1.5]

One process starts a livekit-server (the pinned binary, free loopback ports), ``theo agent`` registered
with it, and ``theo serve``; everything runs on 127.0.0.1 and every figure comes from the same run:

- mic-to-final: the same LibriVox utterances (real time, 1.5 s of silence after each) through a LiveKit
  room (a ``livekit.rtc`` participant publishing 48 kHz, the agent's ``transcript.final`` on
  ``theo.events`` and its ``lk.transcription`` final text stream), ``WS /v1/realtime`` and the embedded
  WebRTC peer (aiortc, ``POST /v1/realtime/calls``), interleaved utterance by utterance. Counted from the
  end of the last word (forced-aligned times in ``word_times.json``) as the participant's audio source
  plays it out, to the final's arrival at the client. A fresh session per utterance on every transport.
- ``tts.speak`` to the first audible frame (20 ms/10 ms frame RMS > 0.01) at the client, Piper and
  Kokoro, the three transports interleaved request by request; ``first_audio_ms`` (the engine's own first
  audio, from ``tts.speaking_start``) beside it. The WebSocket gets audio as fast as it is made; LiveKit
  and WebRTC play it at real time, so the engine's leading silence (``lead-in``) is heard as delay there.
- CPU: the ``theo agent`` process tree (psutil; its STT/TTS worker subprocesses included) per room, with
  the participant talking (looped speech) and idle (a live microphone sending silence), and with no room.
- rooms sustained: 1, 2, 4, 6, 8 ... rooms at once, one participant each talking real speech in a loop;
  a level passes while the p90 final delay stays within ``--bound`` seconds of speech end, every
  utterance gets its final, and no frames are dropped. Levels go up until two in a row fail (one
  failure on a shared machine can be someone else's burst; ``--keep-going`` runs them all); the highest
  passing count is reported. The same looped speech over one ``WS /v1/realtime`` session is the
  baseline.

The participants, livekit-server and theo serve share the 2 cores with the agent (and with whatever
else runs on the machine: the load average and the other processes' CPU are sampled every second and
printed per phase).
"""
