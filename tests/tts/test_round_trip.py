"""Round trip: Theo speaks sentences, Theo's STT transcribes them back, WER stays within measured bounds.

Both directions go through the real server with the OpenAI SDK. Each sentence is synthesized and
transcribed on its own (wav), ITN off so the transcript is compared as spoken; ``bench.evalsets.wer``
lower-cases, strips punctuation and spells numbers on both sides.
"""

from __future__ import annotations

import openai
import pytest

from bench.evalsets import wer

EN = [
    "The quick brown fox jumps over the lazy dog.",
    "Please call me back when you get this message.",
    "The weather today is sunny with a light breeze.",
    "She bought fresh bread and cheese at the market.",
    "Our meeting has been moved to Thursday afternoon.",
]
PT = [
    "Bom dia, tudo bem com você?",
    "O tempo hoje está ensolarado e agradável.",
    "Preciso marcar uma consulta para a próxima semana.",
    "A reunião foi adiada para quinta-feira à tarde.",
    "Ela comprou pão fresco e queijo na feira.",
]

# (tts model, voice, sentences, stt model) -> WER bound.
# Measured on this machine (2 cores, CPU), 3 runs each: piper joe 0.0-2.3 % (Piper samples noise, so it
# varies run to run; 2.3 % is one word in 44), kokoro af_heart 0.0 %, kokoro pf_dora 5.3 % and pm_alex
# 5.3 % (2 of 38 words, the same for both voices: whisper-base writes "insolarado" for "ensolarado" and
# drops the crase "à"). Bounds allow about two more wrong words per set; a broken engine or voice
# (wrong language, garbled phonemes, silence) scores 50 % and more.
CASES = {
    ("piper-en-joe", "alloy", "en", "whisper-tiny.en"): 0.07,
    ("kokoro-82m", "af_heart", "en", "whisper-tiny.en"): 0.05,
    ("kokoro-82m", "pf_dora", "pt", "whisper-base"): 0.11,
    ("kokoro-82m", "pm_alex", "pt", "whisper-base"): 0.11,
}


@pytest.mark.parametrize(("tts_model", "voice", "lang", "stt_model"), list(CASES))
def test_round_trip_wer(client: openai.OpenAI, tts_model: str, voice: str, lang: str, stt_model: str) -> None:
    if tts_model == "piper-en-joe":
        pytest.importorskip("theo_plugin_piper", reason="optional GPL plugin not installed")
    sentences = EN if lang == "en" else PT
    heard = []
    for sentence in sentences:
        audio = client.audio.speech.create(
            model=tts_model, voice=voice, input=sentence, response_format="wav"
        ).content
        result = client.audio.transcriptions.create(
            model=stt_model, file=("speech.wav", audio), language=lang, extra_body={"itn": "false"}
        )
        heard.append(result.text)
    score = wer(sentences, heard, lang)
    print(f"round trip {tts_model}/{voice} -> {stt_model}: WER {score:.3f}")  # shown with -s
    assert score <= CASES[(tts_model, voice, lang, stt_model)], f"WER {score:.3f}: {heard}"
