"""Spoken -> written table (tests/postprocessing/cases.py) through the whole pipeline."""

from __future__ import annotations

import pytest

from tests.postprocessing.cases import ALL_CASES, EN_CASES, PT_CASES, Case
from tests.postprocessing.conftest import requires_nemo
from theo_rtc.postprocessing import PostProcessingOptions, PostProcessor

pytestmark = requires_nemo


def _params(cases: list[Case]) -> list[object]:
    return [
        pytest.param(
            c,
            id=f"{c.lang}-{c.spoken[:50]}",
            marks=[pytest.mark.xfail(reason=c.xfail, strict=True)] if c.xfail else [],
        )
        for c in cases
    ]


def _options(case: Case) -> PostProcessingOptions:
    return PostProcessingOptions(language=case.lang, domain=case.domain, hot_words=case.hot_words)  # type: ignore[arg-type]


def test_table_size() -> None:
    assert len(PT_CASES) >= 60
    assert len(EN_CASES) >= 30


@pytest.mark.parametrize("case", _params(ALL_CASES))
def test_spoken_to_written(processor: PostProcessor, case: Case) -> None:
    assert processor.process_text(case.spoken, _options(case)) == case.expected


@pytest.mark.parametrize(
    "case", [c for c in ALL_CASES if not c.xfail], ids=lambda c: f"{c.lang}-{c.spoken[:40]}"
)
def test_idempotent(processor: PostProcessor, case: Case) -> None:
    """Already written text (the pipeline's own output) passes through unchanged."""
    assert processor.process_text(case.expected, _options(case)) == case.expected


def test_language_guessed_when_not_given(processor: PostProcessor) -> None:
    assert processor.process_text("o cpf é um dois três quatro cinco seis sete oito nove zero nove") == (
        "o cpf é 123.456.789-09"
    )
    assert processor.process_text("it grew by twelve percent last year") == "it grew by 12% last year"
