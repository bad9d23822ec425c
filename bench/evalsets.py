"""Access to the shared evaluation sets (``../shared/eval``) and WER scoring, for tests and benchmarks."""

from __future__ import annotations

import csv
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import jiwer
from num2words import num2words

EVAL_ROOT = Path(os.environ.get("THEO_EVAL_DIR", Path(__file__).resolve().parents[2] / "shared" / "eval"))


@dataclass(frozen=True, slots=True)
class Utterance:
    id: str
    path: Path
    duration: float
    sample_rate: int
    channels: int
    lang: str
    text: str


def load_set(name: str) -> list[Utterance]:
    folder = EVAL_ROOT / name
    with (folder / "refs.tsv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [
        Utterance(
            r["id"],
            folder / r["audio"],
            float(r["duration_s"]),
            int(r["sample_rate"]),
            int(r["channels"]),
            r["lang"],
            r["text"],
        )
        for r in rows
    ]


def _spell_numbers(text: str, lang: str) -> str:
    def spell(match: re.Match[str]) -> str:
        digits = match.group(0).replace(",", "") if lang == "en" else match.group(0).replace(".", "")
        try:
            return f" {num2words(int(digits), lang=lang)} "
        except (ValueError, NotImplementedError, OverflowError):
            return match.group(0)

    pattern = r"\d{1,3}(?:,\d{3})+|\d+" if lang == "en" else r"\d{1,3}(?:\.\d{3})+|\d+"
    return re.sub(pattern, spell, text)


def normalize(text: str, lang: str = "en") -> str:
    """Lower case, numbers spelled out, punctuation removed; both sides of a WER comparison pass here."""
    lang = lang.split("-")[0].lower()
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("%", " percent" if lang == "en" else " por cento")
    text = _spell_numbers(text, "pt_BR" if lang == "pt" else lang)
    text = re.sub(r"[-‐–—/]", " ", text)
    text = re.sub(r"[^\w\s']", " ", text)
    text = text.replace("'", "") if lang == "en" else text.replace("'", " ")
    return re.sub(r"\s+", " ", text).strip()


def wer(references: list[str], hypotheses: list[str], lang: str = "en") -> float:
    refs = [normalize(r, lang) for r in references]
    hyps = [normalize(h, lang) for h in hypotheses]
    return float(jiwer.wer(refs, hyps))
