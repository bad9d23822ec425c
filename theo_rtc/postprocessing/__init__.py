"""Post-processing of final transcripts: entity formatting, inverse text normalisation, hot words."""

from theo_rtc.postprocessing.alignment import realign_words
from theo_rtc.postprocessing.entity_formatting import EntityFormatter
from theo_rtc.postprocessing.hot_words import HotWordCorrector
from theo_rtc.postprocessing.itn import NemoITN, default_cache_dir, nemo_installed
from theo_rtc.postprocessing.pipeline import (
    DOMAINS,
    STAGES,
    Domain,
    HotWordsError,
    NormalizationResult,
    PostProcessingOptions,
    PostProcessor,
    StageReport,
    parse_hot_words,
)

_default: PostProcessor | None = None


def get_postprocessor() -> PostProcessor:
    """The process-wide instance (NeMo grammars are loaded once per process)."""
    global _default
    if _default is None:
        _default = PostProcessor()
    return _default


__all__ = [
    "DOMAINS",
    "STAGES",
    "Domain",
    "EntityFormatter",
    "HotWordCorrector",
    "HotWordsError",
    "NemoITN",
    "NormalizationResult",
    "PostProcessingOptions",
    "PostProcessor",
    "StageReport",
    "default_cache_dir",
    "get_postprocessor",
    "nemo_installed",
    "parse_hot_words",
    "realign_words",
]
