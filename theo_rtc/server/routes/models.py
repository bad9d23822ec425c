"""``GET /v1/models`` and ``GET /v1/models/{id}`` in OpenAI's list shape, from the local model store."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from theo_rtc.registry.store import InstalledModel
from theo_rtc.runtime import TheoRuntime

router = APIRouter(tags=["models"])


def _model_json(model: InstalledModel) -> dict[str, Any]:
    manifest = model.manifest
    return {
        "id": model.name,
        "object": "model",
        "created": int((model.path / "theo.yaml").stat().st_mtime),
        "owned_by": "theo",
        "type": manifest.type,
        "engine": manifest.engine,
        "architecture": manifest.architecture,
        "capabilities": manifest.capabilities.model_dump(),
    }


@router.get("/v1/models", summary="Installed models")
async def list_models(request: Request) -> dict[str, Any]:
    runtime: TheoRuntime = request.app.state.runtime
    return {"object": "list", "data": [_model_json(m) for m in runtime.store.list()]}


@router.get("/v1/models/{model_id}", summary="One installed model")
async def get_model(request: Request, model_id: str) -> dict[str, Any]:
    runtime: TheoRuntime = request.app.state.runtime
    return _model_json(runtime.store.get(model_id))
