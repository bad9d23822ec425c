"""The OpenAI SDK against a real server with real Whisper models, on real speech."""

from __future__ import annotations

import json

import openai
import pytest

from bench.evalsets import EVAL_ROOT, load_set, normalize, wer

# Bounds: WER measured on this machine plus head-room for decoder variation (README, "Accuracy"):
# fleurs_en tiny.en 6.6 %, librivox tiny.en 5.3 %, fleurs_ptbr base 15.0 % (10 utterances: wider margin).
WER_BOUNDS = {
    ("fleurs_en", "whisper-tiny.en"): 0.12,
    ("librivox_pocketsphinx_en", "whisper-tiny.en"): 0.10,
    ("fleurs_ptbr", "whisper-base"): 0.25,
}


@pytest.mark.parametrize(("dataset", "model"), list(WER_BOUNDS))
def test_wer_on_eval_sets(client: openai.OpenAI, dataset: str, model: str) -> None:
    utterances = load_set(dataset)
    lang = utterances[0].lang.split("-")[0]
    hypotheses = []
    for utt in utterances:
        with utt.path.open("rb") as f:
            kwargs = {"language": lang} if model == "whisper-base" else {}
            result = client.audio.transcriptions.create(model=model, file=f, **kwargs)
        hypotheses.append(result.text)
    score = wer([u.text for u in utterances], hypotheses, lang)
    assert score <= WER_BOUNDS[(dataset, model)], f"WER {score:.3f} on {dataset}: {hypotheses}"


def test_jfk_44k_stereo_through_resampling(client: openai.OpenAI) -> None:
    jfk = load_set("jfk_en")[0]
    assert jfk.sample_rate == 44100 and jfk.channels == 2
    with jfk.path.open("rb") as f:
        result = client.audio.transcriptions.create(model="whisper-tiny.en", file=f)
    assert wer([jfk.text], [result.text]) <= 0.1, result.text


@pytest.fixture(scope="module")
def short_utterance() -> bytes:
    return (EVAL_ROOT / "librivox_pocketsphinx_en" / "goforward.wav").read_bytes()


def test_verbose_json_segments_and_words(client: openai.OpenAI, short_utterance: bytes) -> None:
    result = client.audio.transcriptions.create(
        model="whisper-tiny.en",
        file=("goforward.wav", short_utterance),
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )
    assert result.language == "en"
    assert result.duration == pytest.approx(2.786, abs=0.05)  # refs.tsv duration of goforward.wav
    assert result.segments and result.words
    assert all(0 <= s.start < s.end <= result.duration + 0.5 for s in result.segments)
    spoken = normalize(" ".join(w.word for w in result.words))
    assert spoken == normalize(result.text)
    starts = [w.start for w in result.words]
    assert starts == sorted(starts)


def test_verbose_json_without_word_granularity_has_no_words(
    client: openai.OpenAI, short_utterance: bytes
) -> None:
    result = client.audio.transcriptions.create(
        model="whisper-tiny.en", file=("a.wav", short_utterance), response_format="verbose_json"
    )
    assert result.segments
    assert getattr(result, "words", None) is None


@pytest.mark.parametrize("fmt", ["text", "srt", "vtt"])
def test_text_formats(client: openai.OpenAI, short_utterance: bytes, fmt: str) -> None:
    body = client.audio.transcriptions.create(
        model="whisper-tiny.en", file=("a.wav", short_utterance), response_format=fmt
    )
    assert isinstance(body, str)
    if fmt == "srt":
        assert body.startswith("1\n00:00:0") and " --> " in body
    elif fmt == "vtt":
        assert body.startswith("WEBVTT\n\n00:00:0") and "." in body.splitlines()[2]
    assert "forward" in body.lower()


def test_prompt_language_and_temperature_are_accepted(client: openai.OpenAI, short_utterance: bytes) -> None:
    result = client.audio.transcriptions.create(
        model="whisper-tiny.en",
        file=("a.wav", short_utterance),
        language="en",
        prompt="Ten four.",
        temperature=0.2,
    )
    assert "forward" in result.text.lower()


def test_streaming_sse_events(client: openai.OpenAI) -> None:
    jfk = load_set("jfk_en")[0]
    with jfk.path.open("rb") as f:
        stream = client.audio.transcriptions.create(model="whisper-tiny.en", file=f, stream=True)
        events = list(stream)
    types = [e.type for e in events]
    assert types[-1] == "transcript.text.done"
    assert types.count("transcript.text.delta") >= 2  # one per segment, sent as decoded
    deltas = "".join(e.delta for e in events if e.type == "transcript.text.delta")
    assert deltas.strip() == events[-1].text
    assert wer([jfk.text], [events[-1].text]) <= 0.1


def test_translation_to_english(client: openai.OpenAI) -> None:
    utt = load_set("fleurs_ptbr")[3]
    with utt.path.open("rb") as f:
        result = client.audio.translations.create(model="whisper-base", file=f)
    words = set(normalize(result.text).split())
    # English function words show the output is a translation, not a Portuguese transcript.
    assert words & {"the", "and", "of", "is", "to", "in"}, result.text
    assert not words & {"de", "que", "uma", "não"}, result.text


def test_translation_refused_by_english_only_model(client: openai.OpenAI, short_utterance: bytes) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.audio.translations.create(model="whisper-tiny.en", file=("a.wav", short_utterance))
    assert err.value.body["param"] == "model"  # type: ignore[index]


def test_models_endpoint(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {"whisper-tiny.en", "whisper-base", "silero-vad"} <= ids
    model = client.models.retrieve("whisper-base")
    assert model.id == "whisper-base"


def test_health_and_metrics(http) -> None:  # type: ignore[no-untyped-def]
    with (EVAL_ROOT / "librivox_pocketsphinx_en" / "goforward.wav").open("rb") as f:
        assert http.post(
            "/v1/audio/transcriptions", data={"model": "whisper-tiny.en"}, files={"file": f}
        ).is_success
    health = http.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok"
    ready = {w["model"]: w for w in body["workers"]}
    assert ready["whisper-tiny.en"]["state"] == "ready" and ready["whisper-tiny.en"]["pid"]
    metrics = http.get("/metrics").text
    assert 'theo_stt_requests_total{endpoint="transcriptions",model="whisper-tiny.en",status="ok"}' in metrics
    assert "theo_stt_preprocessing_duration_seconds_bucket" in metrics
    ps = http.get("/api/ps").json()
    assert json.dumps(ps) and {m["model"] for m in ps["models"]} >= {"whisper-tiny.en", "whisper-base"}


def test_numbers_are_written_end_to_end_en(client: openai.OpenAI) -> None:
    # Picovoice's *_norm recording: the written form with digits, thousands and a percent sign.
    utt = next(u for u in load_set("picovoice_pt_en") if u.id == "cheetah_test_en_norm")
    with utt.path.open("rb") as f:
        written = client.audio.transcriptions.create(model="whisper-tiny.en", file=f).text
    for token in ("6", "10", "60", "600,000", "12%"):
        assert token in written, written


@pytest.mark.xfail(
    strict=True,
    reason="whisper-base hears 'O que tal, seus cindos e sétis?' for 'Que tal seiscentos e sete': the "
    "words never reach post-processing (tests/postprocessing covers '607' from the spoken form)",
)
def test_numbers_are_written_end_to_end_pt(client: openai.OpenAI) -> None:
    utt = next(u for u in load_set("picovoice_pt_en") if u.id == "cheetah_test_pt_norm")
    with utt.path.open("rb") as f:
        result = client.audio.transcriptions.create(model="whisper-base", file=f, language="pt")
    assert "607" in result.text, result.text


def test_hot_words_and_domain_reach_the_pipeline(http) -> None:  # type: ignore[no-untyped-def]
    bad = http.post(
        "/v1/audio/transcriptions",
        data={"model": "whisper-tiny.en", "domain": "astrology"},
        files={"file": ("a.wav", (EVAL_ROOT / "librivox_pocketsphinx_en" / "goforward.wav").read_bytes())},
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "domain"
    with (EVAL_ROOT / "librivox_pocketsphinx_en" / "goforward.wav").open("rb") as f:
        ok = http.post(
            "/v1/audio/transcriptions",
            data={"model": "whisper-tiny.en", "hot_words": "Forward"},
            files={"file": f},
        )
    assert ok.status_code == 200 and "Forward" in ok.json()["text"]
    assert "postprocessing.itn" in http.get("/health").json()["components"]


def test_openai_model_names_run_on_local_models(client: openai.OpenAI, short_utterance: bytes) -> None:
    result = client.audio.transcriptions.create(model="whisper-1", file=("a.wav", short_utterance))
    assert "forward" in result.text.lower()
    utt = load_set("fleurs_ptbr")[3]
    with utt.path.open("rb") as f:
        translated = client.audio.translations.create(
            model="whisper-1", file=f
        )  # -> multilingual whisper-base
    assert {"the", "and", "of", "is", "to", "in"} & set(normalize(translated.text).split())
