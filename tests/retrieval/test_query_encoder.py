"""The fast (ONNX Runtime) query encoder gives the reference sentence-transformers vectors, faster.

Quality guard: cosine >= 0.99 to the reference on all labelled benchmark queries and 300 corpus
texts, for the bundled model and for a fine-tuned copy saved by training/embedder.py.
"""

from __future__ import annotations

import json
import time
import warnings

import numpy as np
import pytest

from ibert_jupyter.evaluation.bench_retrieval import default_queries_path, load_queries
from ibert_jupyter.retrieval.corpus.chunks import build_corpus
from ibert_jupyter.retrieval.encode import dense, query_encoder

MIN_COSINE = 0.99
MODULES = ("expr/types/strings.py", "expr/types/relations.py", "expr/types/generic.py")


def reference(texts: list[str], model_path: str | None = None) -> np.ndarray:
    """sentence-transformers' own vectors: the long-list path of dense.encode, whatever the list length."""
    model = dense.load_encoder(model_path)
    with dense.torch_threads():
        return model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)


def fast(texts: list[str], model_path: str | None = None, precision: str = "int8") -> np.ndarray:
    return dense.fast_encoder(model_path, 1, precision).encode(texts)


@pytest.fixture(scope="module")
def texts() -> dict[str, list[str]]:
    queries = [q["query"] for q in load_queries(default_queries_path())]
    corpus = [c.dense_text() for c in build_corpus(MODULES, examples=True)]
    assert len(queries) == 158 and len(corpus) >= 200
    return {"queries": queries, "corpus": corpus}


@pytest.fixture(scope="module")
def reference_vectors(texts) -> dict[str, np.ndarray]:
    return {name: reference(items) for name, items in texts.items()}


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory, data_dir) -> str:
    """A fine-tuned copy written by finetune.train (a couple of real steps, so its weights differ)."""
    from ibert_jupyter.training.embedder import mine_pairs, train

    out = tmp_path_factory.mktemp("ft") / "model"
    train(mine_pairs(build_corpus(("expr/types/strings.py",), examples=False)), out, steps=2, batch_size=4,
          progress=False)
    return str(out)


@pytest.mark.slow
@pytest.mark.parametrize("precision, floor, corpus_texts", [("int8", MIN_COSINE, None), ("fp32", 0.9999, 100)])
def test_fast_vectors_match_the_reference_on_queries_and_corpus(data_dir, texts, reference_vectors, precision, floor,
                                                                corpus_texts):
    for name, items in texts.items():
        n = corpus_texts if name == "corpus" else None
        items = items[:n]
        cosine = (fast(items, precision=precision) * reference_vectors[name][:n]).sum(axis=1)
        print(f"{precision} {name}: n={len(items)} min cosine {cosine.min():.5f} mean {cosine.mean():.5f}")
        assert cosine.min() >= floor, f"{precision} {name}: worst cosine {cosine.min():.5f} at {items[cosine.argmin()]!r}"


@pytest.mark.slow
def test_finetuned_copy_gets_its_own_export_with_matching_vectors(data_dir, texts, finetuned):
    base_dir, ft_dir = query_encoder.prepare(), query_encoder.prepare(finetuned)
    assert base_dir != ft_dir
    assert json.loads((ft_dir / query_encoder.SETTINGS).read_text())["max_seq_length"] == 64  # embedder.py's
    sample = texts["queries"] + texts["corpus"][:100]
    cosine = (fast(sample, finetuned) * reference(sample, finetuned)).sum(axis=1)
    assert cosine.min() >= MIN_COSINE
    base_vs_ft = (fast(sample) * fast(sample, finetuned)).sum(axis=1)
    assert base_vs_ft.min() < 0.9999, "the fine-tuned export should not be the base model's"


def test_dense_encode_routes_short_lists_to_the_fast_encoder(data_dir, monkeypatch):
    monkeypatch.delenv(dense.ENCODER_ENV, raising=False)
    query = ["rename a column"]
    got = dense.encode(query)
    assert got.shape == (1, dense.DIMENSION) and got.dtype == np.float32
    assert np.array_equal(got, fast(query))  # the very same vector, so it came from the fast path
    assert abs(float(np.linalg.norm(got[0])) - 1.0) < 1e-5
    monkeypatch.setenv(dense.ENCODER_ENV, "reference")
    assert np.array_equal(dense.encode(query), reference(query))


def test_fast_encoder_is_faster_than_the_reference(data_dir, texts):
    queries = texts["queries"][:40]
    enc, st = dense.fast_encoder(None, 1, "int8"), dense.load_encoder(None)
    enc.encode(queries[:1]), reference(queries[:1])
    fast_ms, ref_ms = [], []
    for q in queries:  # interleaved, so other load on the machine hits both alike
        t0 = time.perf_counter()
        enc.encode([q])
        t1 = time.perf_counter()
        with dense.torch_threads():
            st.encode([q], normalize_embeddings=True)
        fast_ms.append(t1 - t0)
        ref_ms.append(time.perf_counter() - t1)
    assert np.median(fast_ms) < 0.7 * np.median(ref_ms), (np.median(fast_ms), np.median(ref_ms))


def test_export_is_cached_and_stale_exports_are_pruned(data_dir, tmp_path):
    folder = query_encoder.prepare()
    graph = folder / query_encoder.GRAPHS["int8"]
    mtime = graph.stat().st_mtime_ns
    assert query_encoder.prepare(quiet=True) == folder and graph.stat().st_mtime_ns == mtime
    gone = folder.parent / "query-encoder-0000000000000000"
    gone.mkdir()
    (gone / query_encoder.SETTINGS).write_text(json.dumps({"source": str(tmp_path / "deleted-model")}))
    half = folder.parent / "query-encoder-1111111111111111"  # an interrupted export: no settings
    half.mkdir()
    assert set(query_encoder.prune(folder.parent)) == {gone, half}
    assert folder.exists() and not gone.exists() and not half.exists()


def test_cache_key_follows_the_model_files(tmp_path):
    (tmp_path / "modules.json").write_text("[]")
    (tmp_path / "model.safetensors").write_bytes(b"x")
    before = query_encoder.cache_key(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"xy")
    assert query_encoder.cache_key(tmp_path) != before


def test_unsupported_layout_falls_back_to_the_reference(data_dir, tmp_path):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Pooling

    base = dense.load_encoder(None)
    cls_model = SentenceTransformer(modules=[base[0], Pooling(dense.DIMENSION, pooling_mode="cls")], device="cpu")
    cls_model.save(str(tmp_path / "cls"))
    path = str(tmp_path / "cls")
    with pytest.raises(query_encoder.UnsupportedEncoder, match="mean Pooling"):
        query_encoder.prepare(path, quiet=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = dense.encode(["join two tables"], path)
    assert any("sentence-transformers" in str(w.message) for w in caught)
    assert np.allclose(got, reference(["join two tables"], path), atol=1e-6)


def test_bad_settings_and_inputs_are_named(data_dir, monkeypatch, tmp_path):
    monkeypatch.setenv(dense.ENCODER_ENV, "onnx-fp16")
    with pytest.raises(ValueError, match="IBERT_QUERY_ENCODER must be one of"):
        dense.encode(["x"])
    monkeypatch.delenv(dense.ENCODER_ENV)
    monkeypatch.setenv(dense.THREADS_ENV, "0")
    with pytest.raises(ValueError, match="IBERT_EMBED_THREADS must be a positive integer"):
        dense.encode(["x"])
    monkeypatch.delenv(dense.THREADS_ENV)
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        dense.encode(["ok", 3])
    with pytest.raises(FileNotFoundError, match="no sentence-transformers model"):
        dense.encode(["x"], str(tmp_path))
    with pytest.raises(ValueError, match="precision must be one of"):
        query_encoder.OnnxQueryEncoder(query_encoder.prepare(), precision="int4")


def test_a_model_without_token_types_exports_too(data_dir, tmp_path, tiny_sentence_model):
    """MPNet (all-mpnet-base-v2's architecture) and its tokenizer have no token types; a tiny random
    one, built here from a config with the bundled vocabulary, exports and matches its reference."""
    import torch
    from transformers import MPNetConfig, MPNetModel

    torch.manual_seed(0)
    mpnet = MPNetModel(MPNetConfig(vocab_size=30527, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                   intermediate_size=64))
    path = str(tiny_sentence_model(tmp_path, mpnet, token_types=False, max_seq_length=64))
    texts = ["join two tables", "the mode of a column, the value that appears most often"]
    got = fast(texts, path, "fp32")
    assert got.shape == (2, 32)
    assert np.min(np.sum(got * reference(texts, path), axis=1)) > 0.9999
