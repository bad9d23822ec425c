"""Speech-to-text services of the runtime (batch today; streaming sessions build on the same workers)."""

from theo_rtc.stt.formats import CONTENT_TYPES, ResponseFormat, render
from theo_rtc.stt.service import TranscriptionRequest, TranscriptionResult, TranscriptionService

__all__ = [
    "CONTENT_TYPES",
    "ResponseFormat",
    "TranscriptionRequest",
    "TranscriptionResult",
    "TranscriptionService",
    "render",
]
