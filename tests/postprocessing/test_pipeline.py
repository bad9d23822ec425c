"""Pipeline behaviour: switches, failures, bad input, metrics, /health status, segments and word timings."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from tests.postprocessing.conftest import requires_nemo
from theo_rtc.backends.types import TranscriptSegment, Word
from theo_rtc.postprocessing import (
    NemoITN,
    PostProcessingOptions,
    PostProcessor,
    nemo_installed,
    parse_hot_words,
    realign_words,
)

PT = PostProcessingOptions(language="pt", domain="banking")


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- switches --------------------------------------------------------------------------------------
@requires_nemo
def test_itn_can_be_switched_off(processor: PostProcessor) -> None:
    text = "o contrato é de dois mil e vinte e cinco"
    assert processor.process_text(text, PT) == "o contrato é de 2025"
    off = PostProcessingOptions(language="pt", itn=False)
    result = processor.normalize(text, off)
    assert result.text == text
    assert result.stages["itn"].status == "disabled"


def test_entities_can_be_switched_off(processor: PostProcessor) -> None:
    text = "meu cpf é um dois três quatro cinco seis sete oito nove zero nove"
    off = PostProcessingOptions(language="pt", entities=False, itn=False)
    assert processor.process_text(text, off) == text
    on = PostProcessingOptions(language="pt", itn=False)
    assert processor.process_text(text, on) == "meu cpf é 123.456.789-09"


def test_hot_words_stage_runs_only_with_hot_words(processor: PostProcessor) -> None:
    result = processor.normalize("fiz um pics", PostProcessingOptions(language="pt"))
    assert result.text == "fiz um pics"
    assert result.stages["hot_words"].status == "disabled"


def test_options_validation_and_parsing() -> None:
    with pytest.raises(ValueError):
        PostProcessingOptions(domain="retail")  # type: ignore[arg-type]
    assert parse_hot_words(" PIX, TED,,Selic ,pix ") == ("PIX", "TED", "Selic")
    assert parse_hot_words(["PIX,TED", "Selic"]) == ("PIX", "TED", "Selic")
    opts = PostProcessingOptions.from_mapping(
        {"itn": False, "domain": "telecom"}, language="pt", hot_words=("PIX",)
    )
    assert (opts.itn, opts.domain, opts.language, opts.hot_words) == (False, "telecom", "pt", ("PIX",))
    with pytest.raises(ValueError):
        PostProcessingOptions.from_mapping({"domain": "nope"})


# --- metrics ---------------------------------------------------------------------------------------
@requires_nemo
def test_every_stage_is_timed(processor: PostProcessor) -> None:
    before = {
        s: _metric("theo_stt_postprocessing_duration_seconds_count", stage=s)
        for s in ("entities", "itn", "hot_words")
    }
    processor.process_text(
        "fiz um pics de dez reais", PostProcessingOptions(language="pt", hot_words=("PIX",))
    )
    for stage, count in before.items():
        assert _metric("theo_stt_postprocessing_duration_seconds_count", stage=stage) == count + 1


def test_hot_word_hits_are_counted(processor: PostProcessor) -> None:
    before = _metric("theo_stt_hot_word_hits_total", hot_word="Selic")
    result = processor.normalize(
        "a selique subiu e a selique caiu", PostProcessingOptions(language="pt", hot_words=("Selic",))
    )
    assert result.text == "a Selic subiu e a Selic caiu"
    assert result.hot_word_hits == ["Selic", "Selic"]
    assert _metric("theo_stt_hot_word_hits_total", hot_word="Selic") == before + 2


def test_failing_stage_is_skipped_and_counted(
    processor: PostProcessor, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> str:
        raise RuntimeError("grammar exploded")

    monkeypatch.setattr(processor.entities, "format", boom)
    before = _metric("theo_stt_postprocessing_failures_total", stage="entities")
    result = processor.normalize("fiz um pics", PostProcessingOptions(language="pt", hot_words=("PIX",)))
    assert result.text == "fiz um PIX"  # later stages still ran
    assert result.stages["entities"].status.startswith("failed")
    assert _metric("theo_stt_postprocessing_failures_total", stage="entities") == before + 1


def test_stage_returning_nothing_counts_as_failure(
    processor: PostProcessor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(processor.hot_words, "correct", lambda text, words: ("", ["PIX"]))
    result = processor.normalize("fiz um pics", PostProcessingOptions(language="pt", hot_words=("PIX",)))
    assert result.text == "fiz um pics"
    assert result.stages["hot_words"].status.startswith("failed")


# --- ITN extra missing -----------------------------------------------------------------------------
def test_without_nemo_itn_is_unavailable_and_passes_through(no_nemo_processor: PostProcessor) -> None:
    status = no_nemo_processor.status()
    assert status["itn"].startswith("unavailable")
    assert status["entities"] == status["hot_words"] == "ok"
    no_nemo_processor.warm_up()  # a no-op, not an error
    result = no_nemo_processor.normalize("dez mil reais em dois mil e vinte e cinco", PT)
    assert result.text == "R$ 10.000,00 em dois mil e vinte e cinco"
    assert result.stages["itn"].status == "unavailable"


@requires_nemo
def test_status_reports_loaded_grammars(processor: PostProcessor) -> None:
    assert processor.status()["itn"].startswith("ok")


# --- bad input -------------------------------------------------------------------------------------
ADVERSARIAL = [
    "",
    "   ",
    "\n\t",
    ".",
    "?!...,,,",
    "\x00\x01\x02",
    "dois\x00mil",
    "🙂🙂 dez por cento 🙂",
    "‮reais dez‬",
    "zero-width\u200bdez\u200bmil",
    "(((((((",
    "R$",
    "R$ R$ R$ reais reais centavos",
    "e e e e e de de de",
    "mil mil mil mil milhões bilhões",
    "um " * 500,
    "nove " * 300,
    "cpf " * 50 + "um dois",
    "cento e e e vinte",
    "x" * 10_000,
    "123.456.789-09" * 20,
    "99999999999999999999999999999999 reais",
    "dez reais e",
    "reais e cinquenta centavos",
    "The CPF é one two três quatro cinco seis seven oito nove zero nove",
    "I paid dez reais and twenty dollars ontem",
    "%s %d {0} {} \\n \\x00",
    "<script>alert('dez')</script>",
    "'; DROP TABLE transcripts; --",
    "\ud800" if False else "surrogate-free",
    "١٢٣ ٤٥٦",
    "二千二十五",
]


@pytest.mark.parametrize("text", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
@pytest.mark.parametrize("language", ["pt", "en", None])
def test_adversarial_input_never_raises(processor: PostProcessor, text: str, language: str | None) -> None:
    options = PostProcessingOptions(language=language, domain="banking", hot_words=("PIX", "TED", "Selic"))
    before = sum(
        _metric("theo_stt_postprocessing_failures_total", stage=s) for s in ("entities", "itn", "hot_words")
    )
    result = processor.normalize(text, options)
    assert isinstance(result.text, str)
    if text.strip():
        assert result.text.strip()
    # none of these should even make a stage fail
    after = sum(
        _metric("theo_stt_postprocessing_failures_total", stage=s) for s in ("entities", "itn", "hot_words")
    )
    assert after == before


def test_non_string_input_is_tolerated(processor: PostProcessor) -> None:
    assert processor.process_text(None, PT) == ""  # type: ignore[arg-type]


@requires_nemo
def test_50_kb_of_text(processor: PostProcessor) -> None:
    sentence = (
        "o cliente pagou dez mil reais em dois mil e vinte e cinco e pediu um pics de cinquenta reais. "
    )
    text = (sentence * (50_000 // len(sentence) + 1))[:50_000]
    started = time.perf_counter()
    result = processor.normalize(text, PostProcessingOptions(language="pt", hot_words=("PIX",)))
    elapsed = time.perf_counter() - started
    assert all(r.status == "ok" for r in result.stages.values())
    assert result.text.count("R$ 10.000,00 em 2025") >= 500
    assert elapsed < 20


def test_huge_text_passes_through(processor: PostProcessor) -> None:
    text = "dez mil reais " * 10_000
    result = processor.normalize(text, PT)
    assert result.text == text
    assert result.stages["entities"].status.startswith("skipped")


@requires_nemo
def test_mixed_languages(processor: PostProcessor) -> None:
    text = "meu cpf é um dois três quatro cinco seis sete oito nove zero nove and I paid twenty dollars"
    out = processor.process_text(text, PostProcessingOptions(language="pt"))
    assert out.startswith("meu cpf é 123.456.789-09 and I paid")


def test_unsupported_language_only_gets_hot_words(processor: PostProcessor) -> None:
    result = processor.normalize(
        "zwei tausend pics", PostProcessingOptions(language="de", hot_words=("PIX",))
    )
    assert result.text == "zwei tausend PIX"
    assert result.stages["entities"].status.startswith("skipped")
    assert result.stages["itn"].status.startswith("skipped")


# --- segments and word timings ---------------------------------------------------------------------
def _segment(words: list[tuple[str, float, float]], seg_id: int = 0) -> TranscriptSegment:
    ws = tuple(Word(f" {w}", s, e, 0.9) for w, s, e in words)
    return TranscriptSegment(
        id=seg_id, start=words[0][1] - 0.1, end=words[-1][2] + 0.1, text="".join(w.word for w in ws), words=ws
    )


def _check_consistent(segment: TranscriptSegment) -> None:
    assert segment.text.strip() == " ".join(w.word.strip() for w in segment.words)
    previous_end = segment.start
    for word in segment.words:
        assert segment.start <= word.start <= word.end <= segment.end
        assert word.start >= previous_end - 1e-6
        previous_end = word.end


@requires_nemo
def test_segments_rewritten_with_consistent_word_timings(processor: PostProcessor) -> None:
    seg = _segment(
        [
            ("em", 0.5, 0.6),
            ("dois", 0.7, 0.9),
            ("mil", 1.0, 1.2),
            ("e", 1.25, 1.3),
            ("vinte", 1.35, 1.6),
            ("e", 1.65, 1.7),
            ("cinco", 1.75, 2.0),
            ("paguei", 2.1, 2.4),
            ("dez", 2.5, 2.7),
            ("mil", 2.8, 3.0),
            ("reais.", 3.1, 3.5),
        ]
    )
    [out] = processor.process_segments([seg], PT)
    assert out.text == " em 2025 paguei R$ 10.000,00."
    assert (out.start, out.end, out.id) == (seg.start, seg.end, seg.id)
    _check_consistent(out)
    by_text = {w.word.strip(): w for w in out.words}
    assert (by_text["2025"].start, by_text["2025"].end) == (0.7, 2.0)
    assert by_text["em"].start == 0.5
    assert by_text["R$"].start == 2.5 and by_text["10.000,00."].end == 3.5


def test_cpf_segment_collapses_to_one_word(processor: PostProcessor) -> None:
    digits = ["um", "dois", "três", "quatro", "cinco", "seis", "sete", "oito", "nove", "zero", "nove"]
    words = [("cpf", 0.0, 0.3)] + [(d, 0.4 + i * 0.3, 0.6 + i * 0.3) for i, d in enumerate(digits)]
    seg = _segment([(w, s + 1, e + 1) for w, s, e in words])
    [out] = processor.process_segments([seg], PostProcessingOptions(language="pt", itn=False))
    assert [w.word for w in out.words] == [" cpf", " 123.456.789-09"]
    assert (out.words[1].start, out.words[1].end) == (1.4, 1.6 + 10 * 0.3)
    _check_consistent(out)


def test_unchanged_segment_is_returned_as_is(processor: PostProcessor) -> None:
    seg = _segment([("bom", 0.1, 0.3), ("dia", 0.35, 0.6)])
    assert processor.process_segments([seg], PT)[0] is seg


def test_segment_without_words(processor: PostProcessor) -> None:
    seg = TranscriptSegment(id=3, start=0.0, end=2.0, text=" fiz um pics")
    [out] = processor.process_segments([seg], PostProcessingOptions(language="pt", hot_words=("PIX",)))
    assert out.text == " fiz um PIX" and out.words == ()


def test_realign_handles_insertions_and_splits() -> None:
    words = (Word(" vinte", 1.0, 1.5), Word(" reais", 1.6, 2.0))
    out = realign_words(words, "R$ 20,00 hoje")
    assert [w.word for w in out] == [" R$", " 20,00", " hoje"]
    # two words became three: they share the span of the two, in order
    assert out[0].start == 1.0 and out[-1].end == 2.0
    assert all(a.end <= b.start for a, b in itertools.pairwise(out))
    inserted = realign_words(words, "vinte reais hoje")
    assert inserted[2].start == inserted[2].end == 2.0  # an inserted word: zero length at the previous end
    assert realign_words((), "x") == () and realign_words(words, "") == ()


def test_itn_ready_flag(processor: PostProcessor, no_nemo_processor: PostProcessor, tmp_path: Path) -> None:
    assert processor.itn.ready()  # warmed up by the session fixture
    assert no_nemo_processor.itn.ready()  # nothing to load
    if nemo_installed():
        assert not NemoITN(tmp_path).ready()  # would block on a grammar build: the route uses a thread
