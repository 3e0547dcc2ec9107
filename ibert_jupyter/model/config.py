"""Where the model comes from and how it runs, read from env vars (or set by the server).

One frozen settings object so the loader, the status report and the server extension
agree on what "the configured model" means without loading anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

DEFAULT_MODEL_ID = "mistralai/Devstral-Small-2507"
# name -> "module:Class" of a ChatModel with ``from_settings(settings)``; imported only when
# that backend is built (ibert_jupyter.registry), so settings never import torch or httpx.
BACKENDS: dict[str, str] = {
    "local": "ibert_jupyter.model.local:LocalChatModel",
    "openai": "ibert_jupyter.model.openai_compat:OpenAICompatibleModel",
}
QUANTIZATIONS = ("bf16", "nf4")


def default_log_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "ibert" / "requests.sqlite"


@dataclass(frozen=True)
class ModelSettings:
    """Everything needed to build a ChatModel. Env names are listed in ``ENV_VARS``."""

    backend: str = "local"
    model: str = DEFAULT_MODEL_ID  # hub id (must be in the local HF cache) or a local directory
    adapter: str | None = None  # peft LoRA adapter directory (iBERT's adapter)
    quantization: str = "bf16"
    device: str = "auto"  # "auto" (cuda if available), "cuda", "cuda:1", "cpu"
    fast_decode: bool = True  # static KV cache + compiled CUDA-graph step (CUDA only)
    merge_adapter: bool = True  # fold LoRA into bf16 weights: same output, no adapter cost per token
    endpoint: str | None = None  # OpenAI-compatible base URL, e.g. http://gpu-box:8000/v1
    endpoint_model: str | None = None  # model name the endpoint serves (e.g. the LoRA's name)
    api_key: str | None = None
    log_path: Path | None = None  # SQLite request log; None -> default_log_path()
    max_new_tokens: int = 512

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"IBERT_BACKEND must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.quantization not in QUANTIZATIONS:
            raise ValueError(
                f"IBERT_QUANTIZATION must be one of {QUANTIZATIONS}, got {self.quantization!r}"
            )
        if self.backend == "openai" and not self.endpoint:
            raise ValueError("IBERT_BACKEND=openai needs IBERT_OPENAI_BASE_URL (e.g. http://host:8000/v1)")

    @property
    def log_file(self) -> Path:
        return self.log_path or default_log_path()

    def with_(self, **changes) -> "ModelSettings":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "ModelSettings":
        env = os.environ if environ is None else environ
        values: dict = {}
        for field_name, (var, parse) in ENV_VARS.items():
            raw = env.get(var)
            if raw not in (None, ""):
                values[field_name] = parse(raw)
        if "endpoint" in values and "backend" not in values:
            values["backend"] = "openai"
        return cls(**values)


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected a boolean (1/0/true/false), got {raw!r}")


ENV_VARS: dict[str, tuple[str, object]] = {
    "backend": ("IBERT_BACKEND", str),
    "model": ("IBERT_MODEL", str),
    "adapter": ("IBERT_ADAPTER", str),
    "quantization": ("IBERT_QUANTIZATION", str),
    "device": ("IBERT_DEVICE", str),
    "fast_decode": ("IBERT_FAST_DECODE", _bool),
    "merge_adapter": ("IBERT_MERGE_ADAPTER", _bool),
    "endpoint": ("IBERT_OPENAI_BASE_URL", str),
    "endpoint_model": ("IBERT_OPENAI_MODEL", str),
    "api_key": ("IBERT_OPENAI_API_KEY", str),
    "log_path": ("IBERT_LOG_DB", Path),
    "max_new_tokens": ("IBERT_MAX_NEW_TOKENS", int),
}
