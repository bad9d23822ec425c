"""``GET /health`` (real readiness), ``GET /metrics`` (Prometheus), ``GET /api/ps`` (loaded models)."""

from __future__ import annotations

import asyncio
import os
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from theo_rtc.auth import has_operator_access
from theo_rtc.runtime import TheoRuntime
from theo_rtc.workers import WorkerState

router = APIRouter(tags=["operations"])


@router.get("/health", summary="Readiness: 200 when every expected worker is up with its model loaded")
async def health(request: Request) -> JSONResponse:
    runtime: TheoRuntime = request.app.state.runtime
    expected: list[str] = request.app.state.expected_models
    workers = {w.model: w for w in runtime.workers.infos()}
    problems = []
    for name in expected:
        info = workers.get(name)
        if info is None or info.state != WorkerState.READY:
            state = info.state if info else "not started"
            problems.append(
                f"{name}: {state}" + (f" ({info.last_error})" if info and info.last_error else "")
            )
    draining = request.app.state.drain.draining
    if draining:  # SIGTERM: a load balancer stops sending at once (theo_rtc.server.drain)
        problems.insert(0, "draining: the server is shutting down")
    body: dict[str, Any] = {
        "status": "ok" if not problems else "draining" if draining else "unavailable",
        "problems": problems,
        "workers": [asdict(w) for w in workers.values()],
        "models_installed": [m.name for m in runtime.store.list()],
        "components": request.app.state.component_status(),
        "sessions": len(request.app.state.sessions.sessions),
        "process": {"asyncio_tasks": len(asyncio.all_tasks()), "rss_mb": _rss_mb()},
    }
    if not has_operator_access(request):  # auth on and no key: readiness only, no pids/ports/errors
        body = {"status": body["status"]}
    return JSONResponse(body, status_code=200 if not problems else 503)


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return round(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except OSError:  # not Linux
        return 0.0


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/ps", summary="Models loaded in running workers (like `ollama ps`)")
async def loaded_models(request: Request) -> dict[str, Any]:
    runtime: TheoRuntime = request.app.state.runtime
    return {"models": [asdict(w) for w in runtime.workers.infos()]}
