"""The FastAPI application: OpenAI audio endpoints, health, metrics, and the runtime's lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from theo_rtc import __version__
from theo_rtc.auth import install_security
from theo_rtc.config import TheoSettings
from theo_rtc.errors import TheoError
from theo_rtc.runtime import TheoRuntime
from theo_rtc.server.drain import Drain, DrainMiddleware
from theo_rtc.server.errors import install_error_handlers
from theo_rtc.server.limits import BodySizeLimitMiddleware
from theo_rtc.server.request_id import RequestIdMiddleware
from theo_rtc.server.routes import health, livekit, models, speech, text, transcriptions
from theo_rtc.transports.registry import SessionRegistry
from theo_rtc.transports.source_limits import SourceLimits
from theo_rtc.transports.webrtc import router as webrtc_router
from theo_rtc.transports.websocket import router as websocket_router

log = logging.getLogger("theo.server")

WEB_DEMO_DIR = Path(__file__).resolve().parents[2] / "web_demo"


def create_app(settings: TheoSettings | None = None, *, runtime: TheoRuntime | None = None) -> FastAPI:
    settings = settings or TheoSettings()
    runtime = runtime or TheoRuntime(settings)
    preload = settings.preload_models or _default_preload(runtime)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("model store: %s (%d models installed)", settings.models_dir, len(runtime.store.list()))
        await runtime.start(preload)
        # Build/load the ITN grammars before serving, never inside a request (first build ~10 s, then cached).
        await asyncio.to_thread(runtime.postprocessor.warm_up)
        try:
            yield
        finally:
            await runtime.close()

    app = FastAPI(
        title="Theo RTC",
        version=__version__,
        description="Self-hosted realtime voice runtime with OpenAI-compatible audio endpoints.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.expected_models = [m for m in preload if runtime.store.is_installed(m)]
    app.state.component_status = lambda: (
        {"preprocessing": "ok"}
        | {f"postprocessing.{stage}": status for stage, status in runtime.postprocessor.status().items()}
        | {"tts": runtime.speech.status()}
    )
    sessions = SessionRegistry(settings.max_sessions, pending_limit=settings.webrtc_max_pending_offers)
    app.state.sessions = sessions
    app.state.drain = Drain(sessions)  # run by `theo serve` on SIGTERM (DrainingServer)
    app.state.source_limits = SourceLimits(settings)
    app.add_middleware(DrainMiddleware, drain=app.state.drain)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_upload_bytes)
    # Host, CORS, Origin and API-key checks: outside the body limit, so nothing is read for a refusal.
    install_security(app, settings, demo_dir=WEB_DEMO_DIR)
    app.add_middleware(RequestIdMiddleware)  # outermost: refusals by the middlewares above get an id too
    install_error_handlers(app)
    app.include_router(transcriptions.router)
    app.include_router(speech.router)
    app.include_router(models.router)
    app.include_router(health.router)
    app.include_router(text.router)
    app.include_router(websocket_router)
    app.include_router(webrtc_router)
    app.include_router(livekit.router)  # POST /v1/livekit/sessions, GET /vendor/livekit-client.umd.js
    if WEB_DEMO_DIR.is_dir():  # last: every API route above takes precedence over the static files
        app.mount("/", StaticFiles(directory=WEB_DEMO_DIR, html=True), name="web_demo")
    return app


def _default_preload(runtime: TheoRuntime) -> list[str]:
    """The default STT model and the best installed TTS model, so the first request pays no load time."""
    models = [runtime.settings.default_stt_model]
    with contextlib.suppress(TheoError):  # no TTS model or engine available: STT only
        models.append(runtime.speech.resolve_model("tts-1"))
    return models
