"""The post-processing pipeline for final transcripts: entity formatting -> ITN -> hot-word correction.

Entity formatting runs first because NeMo's ITN misreads dictated documents (a CPF becomes a phone
number). Every stage is optional per request, timed into ``theo_stt_postprocessing_duration_seconds``,
and isolated: a stage that raises is skipped and counted, the transcript is still delivered.
Never apply it to partial transcripts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args

from theo_rtc.backends.types import TranscriptSegment
from theo_rtc.observability import metrics
from theo_rtc.postprocessing.alignment import realign_words
from theo_rtc.postprocessing.entity_formatting import EntityFormatter
from theo_rtc.postprocessing.hot_words import (
    MAX_HOT_WORD_CHARS,
    MAX_HOT_WORD_TOKENS,
    MAX_HOT_WORDS,
    MAX_HOT_WORDS_CHARS,
    HotWordCorrector,
)
from theo_rtc.postprocessing.itn import ITN_LANGUAGES, NemoITN
from theo_rtc.postprocessing.language import SUPPORTED, resolve_language

logger = logging.getLogger(__name__)

Domain = Literal["banking", "telecom", "generic"]
DOMAINS: tuple[str, ...] = get_args(Domain)
STAGES = ("entities", "itn", "hot_words")
MAX_TEXT_CHARS = 100_000  # longer input is passed through untouched rather than risk a slow request
_MAX_HOT_WORD_LABELS = (
    500  # bound the label set of theo_stt_hot_word_hits_total (hot words come from clients)
)


class HotWordsError(ValueError):
    """Hot words over one of the limits (``parse_hot_words(..., strict=True)``)."""


def parse_hot_words(value: str | Sequence[str] | None, *, strict: bool = False) -> tuple[str, ...]:
    """'PIX, TED,Selic' or ["PIX", "TED"] -> ("PIX", "TED", "Selic"); blanks and duplicates dropped.

    Bounded before anything else happens, in time linear in what is read: at most
    :data:`MAX_HOT_WORDS_CHARS` characters of input are looked at, at most :data:`MAX_HOT_WORDS` words
    kept, each of at most :data:`MAX_HOT_WORD_CHARS` characters and :data:`MAX_HOT_WORD_TOKENS` words.
    ``strict`` (client input): raise :class:`HotWordsError` instead of dropping what is over a limit.
    """
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    budget = MAX_HOT_WORDS_CHARS
    seen: dict[str, str] = {}  # lower-case -> as written
    for item in items:
        text = item if isinstance(item, str) else str(item)
        if len(text) > budget:
            if strict:
                raise HotWordsError(
                    f"hot_words hold more than {MAX_HOT_WORDS_CHARS} characters; send at most "
                    f"{MAX_HOT_WORDS} words"
                )
            text = text[:budget]
        budget -= max(1, len(text))  # an empty item still costs: a list of them ends too
        for part in text.split(","):
            word = " ".join(part.split())
            if not word:
                continue
            if len(word) > MAX_HOT_WORD_CHARS or word.count(" ") >= MAX_HOT_WORD_TOKENS:
                if strict:
                    raise HotWordsError(
                        f"hot word {word[:40]!r}... is too long: at most {MAX_HOT_WORD_CHARS} characters "
                        f"and {MAX_HOT_WORD_TOKENS} words each"
                    )
                continue
            key = word.lower()
            if key in seen:
                continue
            if len(seen) >= MAX_HOT_WORDS:
                if strict:
                    raise HotWordsError(f"at most {MAX_HOT_WORDS} hot words are accepted")
                return tuple(seen.values())
            seen[key] = word
        if budget <= 0:
            break
    return tuple(seen.values())


@dataclass(frozen=True, slots=True)
class PostProcessingOptions:
    """Per request or per session. ``language`` None means: guess between pt and en from the text."""

    itn: bool = True
    entities: bool = True
    domain: Domain = "generic"
    language: str | None = None
    hot_words: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.domain not in DOMAINS:
            raise ValueError(f"domain must be one of {', '.join(DOMAINS)}, got {self.domain!r}")
        if not isinstance(self.hot_words, tuple):
            object.__setattr__(self, "hot_words", parse_hot_words(self.hot_words))

    @classmethod
    def from_mapping(
        cls, values: Mapping[str, object], *, language: str | None = None, hot_words: Sequence[str] = ()
    ) -> PostProcessingOptions:
        """From request fields ({"itn": False, "domain": "banking", ...}); unknown keys are ignored.

        Raises ValueError for an unknown domain (the caller turns it into a 400).
        """
        domain = str(values.get("domain") or "generic")
        lang = values.get("language", language)
        return cls(
            itn=bool(values.get("itn", True)),
            entities=bool(values.get("entities", True)),
            domain=domain,  # type: ignore[arg-type]  # validated in __post_init__
            language=str(lang) if lang else None,
            hot_words=parse_hot_words(values.get("hot_words", hot_words)),  # type: ignore[arg-type]
        )


@dataclass(slots=True)
class StageReport:
    status: str  # ok | disabled | skipped: <why> | unavailable | failed: <error>
    ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "ms": round(self.ms, 3)}


@dataclass(slots=True)
class NormalizationResult:
    text: str
    language: str | None
    stages: dict[str, StageReport] = field(default_factory=dict)
    hot_word_hits: list[str] = field(default_factory=list)


class PostProcessor:
    """One per process: holds the NeMo grammars. Thread-safe."""

    def __init__(self, *, itn_cache_dir: Path | None = None, itn: NemoITN | None = None) -> None:
        self.entities = EntityFormatter()
        self.itn = itn or NemoITN(itn_cache_dir)
        self.hot_words = HotWordCorrector()
        self._hit_labels: set[str] = set()

    def status(self) -> dict[str, str]:
        """Per stage, for ``/health``: "ok..." or "unavailable: reason"."""
        return {"entities": "ok", "itn": self.itn.status(), "hot_words": "ok"}

    def warm_up(self, languages: Iterable[str] = ITN_LANGUAGES) -> None:
        """Build or load NeMo's grammars (disk cache) and run each stage once; call at server start-up."""
        self.itn.warm_up(languages)
        for language in languages:
            self.normalize("dois mil e vinte e cinco" if language == "pt" else "twenty twenty five",
                           PostProcessingOptions(language=language, hot_words=("PIX",)))  # fmt: skip

    # --- text ----------------------------------------------------------------------------------------------
    async def normalize_async(
        self, text: str, options: PostProcessingOptions | None = None
    ) -> NormalizationResult:
        """:meth:`normalize` in a worker thread: CPU work (NeMo, fuzzy matching) never runs on the loop."""
        return await asyncio.to_thread(self.normalize, text, options)

    def process_text(self, text: str, options: PostProcessingOptions | None = None) -> str:
        return self.normalize(text, options).text

    def normalize(self, text: str, options: PostProcessingOptions | None = None) -> NormalizationResult:
        options = options or PostProcessingOptions()
        if not isinstance(text, str):  # defensive: engines should hand over str
            text = "" if text is None else str(text)
        try:
            language = resolve_language(options.language, text)
        except Exception:
            logger.exception("language resolution failed")
            language = None
        result = NormalizationResult(text=text, language=language)
        too_long = len(text) > MAX_TEXT_CHARS
        for stage in STAGES:
            result.stages[stage] = self._run_stage(stage, result, options, too_long)
        return result

    def _run_stage(
        self, stage: str, result: NormalizationResult, options: PostProcessingOptions, too_long: bool
    ) -> StageReport:
        text, language = result.text, result.language
        if stage == "entities" and not options.entities:
            return StageReport("disabled")
        if stage == "itn" and not options.itn:
            return StageReport("disabled")
        if stage == "hot_words" and not options.hot_words:
            return StageReport("disabled")
        if not text.strip():
            return StageReport("skipped: empty text")
        if too_long:
            return StageReport(f"skipped: text longer than {MAX_TEXT_CHARS} characters")
        if stage != "hot_words" and language not in SUPPORTED:
            return StageReport(f"skipped: language {options.language or 'undetected'} not supported")
        if stage == "itn" and language is not None and not self.itn.available(language):
            return StageReport("unavailable")

        started = time.perf_counter()
        try:
            hits: list[str] = []
            if stage == "entities":
                assert language is not None
                new_text = self.entities.format(text, language, options.domain)
            elif stage == "itn":
                assert language is not None
                new_text = self.itn.apply(text, language)
            else:
                new_text, hits = self.hot_words.correct(text, options.hot_words)
            if not isinstance(new_text, str) or not new_text.strip():
                raise ValueError(f"stage {stage} returned no text")
        except Exception as exc:
            elapsed = time.perf_counter() - started
            metrics.stt_postprocessing_failures_total.labels(stage=stage).inc()
            logger.warning("post-processing stage %s failed and was skipped", stage, exc_info=True)
            return StageReport(f"failed: {type(exc).__name__}", elapsed * 1000)
        elapsed = time.perf_counter() - started
        metrics.stt_postprocessing_duration_seconds.labels(stage=stage).observe(elapsed)
        result.text = new_text
        for hit in hits:
            self._count_hit(hit)
        result.hot_word_hits.extend(hits)
        return StageReport("ok", elapsed * 1000)

    def _count_hit(self, hot_word: str) -> None:
        if hot_word not in self._hit_labels and len(self._hit_labels) >= _MAX_HOT_WORD_LABELS:
            hot_word = "_other"
        else:
            self._hit_labels.add(hot_word)
        metrics.stt_hot_word_hits_total.labels(hot_word=hot_word).inc()

    # --- segments ------------------------------------------------------------------------------------------
    async def process_segments_async(
        self, segments: Iterable[TranscriptSegment], options: PostProcessingOptions | None = None
    ) -> list[TranscriptSegment]:
        """:meth:`process_segments` in a worker thread (call this from the event loop)."""
        return await asyncio.to_thread(self.process_segments, list(segments), options)

    def process_segments(
        self, segments: Iterable[TranscriptSegment], options: PostProcessingOptions | None = None
    ) -> list[TranscriptSegment]:
        """Rewrite final segments; word timings follow the rewritten words, segment bounds stay."""
        return [self.process_segment(segment, options) for segment in segments]

    def process_segment(
        self, segment: TranscriptSegment, options: PostProcessingOptions | None = None
    ) -> TranscriptSegment:
        stripped = segment.text.strip()
        new_text = self.process_text(stripped, options)
        if new_text == stripped:
            return segment
        leading = segment.text[: len(segment.text) - len(segment.text.lstrip())]
        try:
            words = realign_words(segment.words, new_text) if segment.words else ()
        except Exception:
            logger.warning("word re-alignment failed; segment kept as transcribed", exc_info=True)
            metrics.stt_postprocessing_failures_total.labels(stage="alignment").inc()
            return segment
        return replace(segment, text=leading + new_text, words=words)
