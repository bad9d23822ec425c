"""``POST /v1/text/normalize``: the transcript post-processing pipeline over HTTP, for text from elsewhere."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from theo_rtc.errors import InvalidRequestError
from theo_rtc.postprocessing import (
    DOMAINS,
    HotWordsError,
    PostProcessingOptions,
    get_postprocessor,
    parse_hot_words,
)
from theo_rtc.postprocessing.pipeline import MAX_TEXT_CHARS

router = APIRouter(tags=["text"])


class NormalizeRequest(BaseModel):
    text: str = Field(description="Spoken-form text, e.g. 'dois mil e vinte e cinco'.")
    language: str | None = Field(
        default=None, description="pt or en (pt-BR, en-US accepted); default: guess."
    )
    domain: str = Field(default="generic", description="Entity rules: banking | telecom | generic.")
    itn: bool = True
    entities: bool = True
    hot_words: list[str] | str | None = Field(default=None, description='["PIX", "TED"] or "PIX,TED".')


class NormalizeResponse(BaseModel):
    text: str
    language: str | None
    stages: dict[str, dict[str, Any]]
    hot_word_hits: list[str]


@router.post("/v1/text/normalize", summary="Entity formatting, ITN and hot-word correction of a text")
async def normalize_text(body: NormalizeRequest) -> NormalizeResponse:
    if body.domain not in DOMAINS:
        raise InvalidRequestError(f"domain must be one of: {', '.join(DOMAINS)}", param="domain")
    if len(body.text) > MAX_TEXT_CHARS:
        raise InvalidRequestError(f"text is longer than {MAX_TEXT_CHARS} characters", param="text")
    try:
        hot_words = parse_hot_words(body.hot_words, strict=True)
    except HotWordsError as exc:
        raise InvalidRequestError(str(exc), param="hot_words", code="invalid_value") from None
    options = PostProcessingOptions(
        itn=body.itn,
        entities=body.entities,
        domain=body.domain,  # type: ignore[arg-type]  # checked against DOMAINS above
        language=body.language,
        hot_words=hot_words,
    )
    # In a worker thread, whatever the length: NeMo, entity rules and fuzzy matching are CPU work.
    result = await get_postprocessor().normalize_async(body.text, options)
    return NormalizeResponse(
        text=result.text,
        language=result.language,
        stages={name: report.to_dict() for name, report in result.stages.items()},
        hot_word_hits=result.hot_word_hits,
    )
