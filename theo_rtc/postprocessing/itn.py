"""Inverse text normalisation with NVIDIA NeMo's grammars (``pip install 'theo-rtc[itn]'``).

NeMo composes the whole input with a large FST: ~1.5 ms for a single word, 15-60 ms for a long English
sentence. To stay within the per-segment budget only the spans around number words ("windows") are sent
to it, and results are memoised. Text between windows, including what the entity stage already wrote
as digits, is never touched by NeMo.

Grammars are compiled once (5-8 s per language) into ``<cache>/<lang>_itn_lower_cased.far`` and loaded
from there afterwards (~1 s); the cache directory is ``$THEO_ITN_CACHE_DIR`` or ``$THEO_HOME/cache/itn``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import tempfile
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from theo_rtc.postprocessing.numbers import LEXICONS
from theo_rtc.postprocessing.tokens import Token, tokenize, word_set

logger = logging.getLogger(__name__)

ITN_LANGUAGES = ("pt", "en")
_INPUT_CASE = "lower_cased"  # the pt grammar only exists lower-cased; en uses the same for consistency
_MEMO_SIZE = 4096
_MAX_WINDOW_TOKENS = 40  # longer runs of number words are cut: NeMo's cost grows with the input

_CORE, _ORDINAL, _EXTENSION, _JOINER, _OTHER = range(5)

_JOINERS = {
    "pt": frozenset({"e", "de", "do", "da", "vírgula", "virgula", "às"}),
    "en": frozenset({"and", "of", "point", "oh", "o", "a", "the"}),
}
_EXTENSIONS = {
    "pt": word_set("por cento porcento horas hora minutos minuto segundos h min meia meio noite dia graus"),
    "en": word_set("percent p m a.m. p.m. am pm o'clock half past quarter to degrees"),
}
_EN_ORDINALS = word_set(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth "
    "fifteenth sixteenth seventeenth eighteenth nineteenth twentieth thirtieth fortieth fiftieth sixtieth "
    "seventieth eightieth ninetieth hundredth thousandth millionth"
)
_MONTHS = {
    "pt": word_set(
        "janeiro fevereiro março marco abril maio junho julho agosto setembro outubro novembro dezembro"
    ),
    "en": word_set("january february march april may june july august september october november december"),
}
# House style on top of NeMo's output: "10%" (no space), and Brazilian clock times "15h30" / "17h".
_Fix = tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]
_PT_MONTHS = "janeiro|fevereiro|março|abril|maio|junho|julho|agosto|setembro|outubro|novembro|dezembro"
_STYLE_FIXES: dict[str, list[_Fix]] = {
    "pt": [
        (re.compile(r"(\d) %"), r"\1%"),
        (re.compile(r"\b(\d{1,2}) h e (\d{1,2}) min\b"), lambda m: f"{m.group(1)}h{int(m.group(2)):02d}"),
        (re.compile(r"\b(\d{1,2}) h\b"), r"\1h"),
        # "01 de janeiro" -> "1º de janeiro", "05 de março" -> "5 de março"
        (re.compile(rf"\b0?1 de ({_PT_MONTHS})\b"), r"1º de \1"),
        (re.compile(rf"\b0(\d) de ({_PT_MONTHS})\b"), r"\1 de \2"),
        # thousands separator from five digits on ("120.000"); four-digit numbers and years stay as they are
        (
            re.compile(r"(?<![\d.,])(\d{5,})(?![\d]|[.,]\d)"),
            lambda m: f"{int(m.group(1)):,}".replace(",", "."),
        ),
    ],
    "en": [
        (re.compile(r"(\d) %"), r"\1%"),
        (re.compile(r"\b0(\d):(\d\d)\b"), r"\1:\2"),  # "03:30 p.m." -> "3:30 p.m."
    ],
}


def _style(language: str, written: str) -> str:
    for pattern, repl in _STYLE_FIXES.get(language, []):
        written = pattern.sub(repl, written)
    return written


def default_cache_dir() -> Path:
    override = os.environ.get("THEO_ITN_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    try:
        from theo_rtc.config import TheoSettings

        home = TheoSettings().home
    except Exception:  # a broken THEO_* variable must not take ITN down with it
        home = Path.home() / ".theo"
    return home / "cache" / "itn"


def nemo_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("nemo_text_processing", "pynini"))


class NemoITN:
    """Lazily built NeMo ``InverseNormalizer`` per language, applied to number windows only."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir or default_cache_dir()
        self._normalizers: dict[str, Any] = {}
        self._errors: dict[str, str] = {}
        self._build_lock = threading.Lock()
        # pynini FSTs are not documented as thread-safe: calls into NeMo are serialised.
        self._call_lock = threading.Lock()
        self._memo: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._vocab: dict[str, dict[str, int]] = {}
        self._installed = nemo_installed()

    # --- availability --------------------------------------------------------------------------------------
    def status(self) -> str:
        if not self._installed:
            return "unavailable: nemo_text_processing is not installed (pip install 'theo-rtc[itn]')"
        failed = {lang: err for lang, err in self._errors.items()}
        if failed and len(failed) == len(ITN_LANGUAGES):
            return "unavailable: " + "; ".join(f"{lang}: {err}" for lang, err in failed.items())
        if failed:
            return "ok (" + "; ".join(f"{lang} unavailable: {err}" for lang, err in failed.items()) + ")"
        loaded = sorted(self._normalizers)
        return f"ok (loaded: {', '.join(loaded)})" if loaded else "ok (grammars load on first use)"

    def ready(self) -> bool:
        """True when no call can block on a grammar build or load (all loaded, failed, or no NeMo)."""
        return not self._installed or all(
            lang in self._normalizers or lang in self._errors for lang in ITN_LANGUAGES
        )

    def available(self, language: str) -> bool:
        return self._installed and language in ITN_LANGUAGES and language not in self._errors

    def warm_up(self, languages: Iterable[str] = ITN_LANGUAGES) -> None:
        """Build or load the grammars now (server start-up, install) instead of on the first request."""
        for language in languages:
            if self.available(language):
                self._normalizer(language)

    def _normalizer(self, language: str) -> Any | None:
        normalizer = self._normalizers.get(language)
        if normalizer is not None or language in self._errors:
            return normalizer
        with self._build_lock:
            if language in self._normalizers or language in self._errors:
                return self._normalizers.get(language)
            try:
                normalizer = self._load(language)
            except Exception as exc:
                logger.exception("ITN grammar for %s could not be built", language)
                self._errors[language] = f"{type(exc).__name__}: {exc}"
                return None
            self._normalizers[language] = normalizer
            return normalizer

    def _load(self, language: str) -> Any:
        logging.getLogger("NeMo-text-processing").setLevel(logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from nemo_text_processing.inverse_text_normalization.inverse_normalize import InverseNormalizer

            # NeMo configures its logger on import: quieten it afterwards, not before.
            logging.getLogger("NeMo-text-processing").setLevel(logging.WARNING)

            self.cache_dir.mkdir(parents=True, exist_ok=True)
            far = self.cache_dir / f"{language}_itn_{_INPUT_CASE}.far"
            if far.exists():
                return InverseNormalizer(lang=language, input_case=_INPUT_CASE, cache_dir=str(self.cache_dir))
            # Build in a private directory and move the file into place, so that concurrent processes
            # never load a half-written grammar.
            logger.info("building the %s ITN grammar into %s (first use only)", language, self.cache_dir)
            build_dir = Path(tempfile.mkdtemp(prefix=f".build-{language}-", dir=self.cache_dir))
            try:
                normalizer = InverseNormalizer(
                    lang=language, input_case=_INPUT_CASE, cache_dir=str(build_dir)
                )
                built = build_dir / far.name
                if built.exists():
                    os.replace(built, far)
            finally:
                shutil.rmtree(build_dir, ignore_errors=True)
            return normalizer

    # --- vocabulary of the windows -------------------------------------------------------------------------
    def _classes(self, language: str) -> dict[str, int]:
        classes = self._vocab.get(language)
        if classes is not None:
            return classes
        classes = {}
        for word in _nemo_data_words(language):
            if len(word) <= 2:
                continue  # "us", "m", "s"...: too ambiguous to pull ordinary words into a window
            classes[word] = _EXTENSION
            if language == "en":
                classes[word + "s"] = _EXTENSION  # the tables list units in the singular
        for word in _EXTENSIONS[language] | _MONTHS[language]:
            classes[word] = _EXTENSION
        for word in _JOINERS[language]:
            classes[word] = _JOINER
        if language == "en":
            for word in _EN_ORDINALS:
                classes[word] = _ORDINAL
        else:
            for word in _nemo_ordinals(language):
                classes[word] = _CORE
        lex = LEXICONS[language]
        for table in (lex.units, lex.teens, lex.tens, lex.hundreds, lex.scales):
            for word in table:
                classes[word] = _CORE
        for word in lex.hundred_multiplier:
            classes[word] = _CORE
        self._vocab[language] = classes
        return classes

    def windows(self, tokens: Sequence[Token], language: str) -> list[tuple[int, int]]:
        """Spans [start, end) of tokens worth sending to NeMo: number words and the words around them."""
        classes = self._classes(language)
        months = _MONTHS[language]
        spans: list[tuple[int, int]] = []
        start: int | None = None

        def close(end: int) -> None:
            if start is None:
                return
            s, e = start, end
            while s < e and classes.get(tokens[s].norm) == _JOINER:
                s += 1
            while e > s and classes.get(tokens[e - 1].norm) == _JOINER:
                e -= 1
            kinds = [classes.get(t.norm, _OTHER) for t in tokens[s:e]]
            has_month = any(t.norm in months for t in tokens[s:e])
            if _CORE in kinds or (_ORDINAL in kinds and has_month):
                for cut in range(s, e, _MAX_WINDOW_TOKENS):
                    spans.append((cut, min(e, cut + _MAX_WINDOW_TOKENS)))

        for index, token in enumerate(tokens):
            kind = classes.get(token.norm, _OTHER)
            if kind == _OTHER or token.lead:
                close(index)
                start = None
                if kind == _OTHER:
                    continue
            if start is None:
                start = index
            if token.trail:
                close(index + 1)
                start = None
        close(len(tokens))
        return spans

    # --- normalisation -------------------------------------------------------------------------------------
    def _normalize_span(self, language: str, text: str) -> str:
        key = (language, text)
        with self._call_lock:
            cached = self._memo.get(key)
            if cached is not None:
                self._memo.move_to_end(key)
                return cached
        normalizer = self._normalizer(language)
        if normalizer is None:
            return text
        with self._call_lock:
            result = str(normalizer.inverse_normalize(text, verbose=False))
            self._memo[key] = result
            if len(self._memo) > _MEMO_SIZE:
                self._memo.popitem(last=False)
        return result

    def apply(self, text: str, language: str) -> str:
        if not self.available(language) or not text.strip():
            return text
        tokens = tokenize(text)
        spans = self.windows(tokens, language)
        if not spans:
            return text
        pieces: list[str] = []
        cursor = 0
        for start, end in spans:
            pieces.extend(t.raw for t in tokens[cursor:start])
            window = tokens[start:end]
            spoken = " ".join(t.core.lower() for t in window)
            written = self._normalize_span(language, spoken)
            if written == spoken or not written.strip():
                pieces.extend(t.raw for t in window)
            else:
                written = _style(language, written)
                if window[0].core[:1].isupper() and written[:1].islower():
                    written = written[0].upper() + written[1:]
                pieces.append(window[0].lead + written + window[-1].trail)
            cursor = end
        pieces.extend(t.raw for t in tokens[cursor:])
        return " ".join(pieces)


def _nemo_data_dir(language: str) -> Path | None:
    spec = importlib.util.find_spec("nemo_text_processing")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = (
        Path(next(iter(spec.submodule_search_locations))) / "inverse_text_normalization" / language / "data"
    )
    return path if path.is_dir() else None


def _nemo_data_words(language: str) -> set[str]:
    """Words of NeMo's own measurement, currency and time tables: they extend a window, never start one."""
    data = _nemo_data_dir(language)
    words: set[str] = set()
    if data is None:
        return words
    for tsv in data.rglob("*.tsv"):
        if "whitelist" in tsv.name or "electronic" in tsv.parts:
            continue
        for line in tsv.read_text(encoding="utf-8").splitlines():
            for column in line.split("\t"):
                words.update(w for w in column.lower().split() if w.isalpha())
    return words


def _nemo_ordinals(language: str) -> set[str]:
    data = _nemo_data_dir(language)
    if data is None or not (data / "ordinals").is_dir():
        return set()
    words: set[str] = set()
    for tsv in (data / "ordinals").glob("*.tsv"):
        for line in tsv.read_text(encoding="utf-8").splitlines():
            words.update(w for w in line.split("\t")[0].lower().split() if w.isalpha())
    return words
