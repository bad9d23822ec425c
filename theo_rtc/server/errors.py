"""Every failure leaves the server as OpenAI-shaped JSON: ``{"error": {message, type, param, code}}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from theo_rtc.errors import TheoError

log = logging.getLogger("theo.server")


def error_body(
    message: str, error_type: str, *, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TheoError)
    async def theo_error(request: Request, exc: TheoError) -> JSONResponse:
        level = logging.WARNING if exc.status_code < 500 else logging.ERROR
        log.log(level, "%s %s -> %d %s", request.method, request.url.path, exc.status_code, exc.message)
        return JSONResponse(exc.to_dict(), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        location = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        param = ".".join(location) or None
        message = first.get("msg", "invalid request")
        if first.get("type") == "missing":
            message = f"missing required parameter: {param}"
        elif param:
            message = f"invalid value for {param}: {message}"
        return JSONResponse(
            error_body(message, "invalid_request_error", param=param, code="invalid_value"), status_code=400
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error_type = "invalid_request_error" if exc.status_code < 500 else "server_error"
        code = {404: "not_found", 405: "method_not_allowed", 413: "file_too_large"}.get(exc.status_code)
        return JSONResponse(error_body(str(exc.detail), error_type, code=code), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body(f"internal error: {type(exc).__name__}", "server_error", code="internal_error"),
            status_code=500,
        )
