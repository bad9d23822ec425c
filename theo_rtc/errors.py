"""Errors that carry their own OpenAI-shaped HTTP representation.

Anything raised as a :class:`TheoError` reaches the client as
``{"error": {"message", "type", "param", "code"}}`` with its status code; the server keeps serving.
"""

from __future__ import annotations

from typing import Any


class TheoError(Exception):
    status_code = 500
    error_type = "server_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequestError(TheoError):
    status_code = 400
    error_type = "invalid_request_error"
    code = "invalid_request"


class InvalidAudioError(InvalidRequestError):
    code = "invalid_audio"


class AudioTooLongError(InvalidRequestError):
    status_code = 413
    code = "audio_too_long"


class UploadTooLargeError(InvalidRequestError):
    status_code = 413
    code = "file_too_large"


class ModelNotFoundError(InvalidRequestError):
    status_code = 404
    code = "model_not_found"


class WorkerUnavailableError(TheoError):
    """The engine worker died or is restarting; the request may be retried."""

    status_code = 503
    error_type = "server_error"
    code = "worker_unavailable"


class WorkerTimeoutError(WorkerUnavailableError):
    """The worker did not answer within the call's deadline (hung, or far slower than it should be)."""

    status_code = 504
    code = "worker_timeout"


class ServerShuttingDownError(TheoError):
    """The server is draining after SIGTERM: no new work; another replica (or a retry later) serves it."""

    status_code = 503
    code = "server_shutting_down"


class RateLimitedError(TheoError):
    """Too many requests from one source (OpenAI's 429 shape)."""

    status_code = 429
    error_type = "requests"
    code = "rate_limit_exceeded"


class ModelStoreError(TheoError):
    """A model could not be installed, verified or removed."""

    code = "model_store_error"


class ChecksumMismatchError(ModelStoreError):
    code = "checksum_mismatch"
