"""The process-wide model: ``get_default_model()`` for generation, repair and chat.

Built once from ``ModelSettings.from_env()`` (or settings the server extension passes),
wrapped in the SQLite request log. Raises ModelUnavailable with exact instructions when
no weights or endpoint are configured; nothing else in iBERT depends on a model.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from ibert_jupyter.model.base import ChatModel
from ibert_jupyter.model.config import BACKENDS, ModelSettings
from ibert_jupyter.model.errors import ModelUnavailable

_lock = threading.Lock()
_model: ChatModel | None = None
_settings: ModelSettings | None = None


def configure(settings: ModelSettings | None) -> None:
    """Use ``settings`` (None: env vars) for the next load; drops a loaded model."""
    global _settings, _model
    with _lock:
        _settings, _model = settings, None


def reconfigure(settings: ModelSettings) -> None:
    """Apply new settings while the server runs: the loaded model (if any) is dropped and its
    accelerator memory returned, so the next use loads what ``settings`` describe."""
    configure(settings)
    free_accelerator_memory()


def free_accelerator_memory() -> None:
    """Give cached GPU memory back after a dropped model or an out-of-memory failure."""
    import gc
    import sys

    gc.collect()
    torch = sys.modules.get("torch")  # never import torch just to free nothing
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def current_settings() -> ModelSettings:
    return _settings or ModelSettings.from_env()


def build_model(settings: ModelSettings) -> ChatModel:
    """The backend ``settings.backend`` names in ``BACKENDS``, wrapped in the request log."""
    from ibert_jupyter.model.log import LoggedModel, RequestLog
    from ibert_jupyter.registry import load

    try:
        inner: ChatModel = load(BACKENDS, settings.backend, "model backend").from_settings(settings)
    except ImportError as exc:
        raise ModelUnavailable(
            f"the {settings.backend} backend needs the model extra ({exc.name} missing): "
            "pip install 'ibert-jupyter[model]'"
        ) from exc
    return LoggedModel(inner, RequestLog(settings.log_file))


def get_default_model() -> ChatModel:
    """The configured model, loaded on first use (thread-safe)."""
    global _model
    with _lock:
        if _model is None:
            _model = build_model(current_settings())
        return _model


def loaded_model() -> ChatModel | None:
    """The model if it is already loaded; never loads."""
    return _model


@contextmanager
def use_model(model: ChatModel) -> Iterator[ChatModel]:
    """Make ``model`` the default for the duration (embedding apps, tests, notebooks)."""
    global _model
    with _lock:
        previous, _model = _model, model
    try:
        yield model
    finally:
        with _lock:
            _model = previous
