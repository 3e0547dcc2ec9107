"""Model status for ``ibert status`` and /ibert/status; never loads the model."""

from __future__ import annotations

from typing import Any

from ibert_jupyter.model import runtime
from ibert_jupyter.model.errors import ModelUnavailable


def model_status() -> dict[str, Any]:
    try:
        settings = runtime.current_settings()
    except ValueError as exc:
        return {"status": "misconfigured", "error": str(exc)}
    info: dict[str, Any] = {
        "backend": settings.backend,
        "model": settings.model,
        "adapter": settings.adapter,
        "quantization": settings.quantization,
        "log": str(settings.log_file),
        "loaded": runtime.loaded_model() is not None,
    }
    if settings.backend == "openai":
        info.update(status="configured", endpoint=settings.endpoint, endpoint_model=settings.endpoint_model)
        return info
    from ibert_jupyter.model.loader import resolve_weights

    try:
        info["weights"] = str(resolve_weights(settings))
        info["status"] = "loaded" if info["loaded"] else "available"
    except ModelUnavailable as exc:
        info.update(status="unavailable", instructions=str(exc))
    return info
