"""``ibert bench retrieval``: BM25 vs dense vs hybrid vs hybrid+graph vs fine-tuned, in one run.

Metrics on the labeled queries (evaluation/data/retrieval_queries.jsonl): Recall@5
(|relevant ∩ top-5| / |relevant|), MRR, nDCG@10 (binary gains), plus hit@5 (any relevant
symbol in the top 5). Latency: end-to-end ``search()`` time per query (query embedding +
scoring + fused re-rank) on the embedded store, p50/p95 (nearest-rank); the embedding and
the scoring are also reported apart, and Qdrant's own local-mode ``query_points`` for comparison.
The gain of hybrid + graph over the better single retriever comes with a paired bootstrap
interval over the queries (``gain_interval``): how much of it rests on which questions were written.
A second labeled set (``retrieval_queries_heldout.jsonl``), written after the glossary of aliases
by someone who never saw it, is reported under ``heldout``: the same metrics and gain on
questions nothing in iBERT was shaped by. The last stdout line is one JSON object; progress
goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib import resources
from pathlib import Path

import numpy as np

from ibert_jupyter.evaluation.stats import percentile
from ibert_jupyter.retrieval.tuning.metrics import default_queries_path, load_queries, metrics

MODES = ("bm25", "dense", "hybrid", "hybrid_graph")


def heldout_queries_path() -> Path:
    return Path(str(resources.files("ibert_jupyter.evaluation") / "data" / "retrieval_queries_heldout.jsonl"))


def per_query(retriever, queries: list[dict], mode: str, vectors: list[np.ndarray] | None) -> list[dict[str, float]]:
    """Each query's metrics under one mode, in query order (for paired comparisons)."""
    out = []
    for i, q in enumerate(queries):
        vec = vectors[i] if vectors is not None else None
        hits = retriever.search(q["query"], 10, mode=mode, query_vector=vec)
        out.append(metrics([h.id for h in hits], set(q["relevant"])))
    return out


def mean_metrics(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(sum(r[k] for r in rows) / len(rows), 4) for k in rows[0]}


def evaluate(retriever, queries: list[dict], mode: str, vectors: list[np.ndarray] | None) -> dict[str, float]:
    return mean_metrics(per_query(retriever, queries, mode, vectors))


def gain_interval(rows: dict[str, list[dict[str, float]]], metric: str = "recall_at_5") -> dict:
    """hybrid + graph minus the better single retriever (BM25 or dense), in points, with a 95% bootstrap interval."""
    from ibert_jupyter.evaluation.stats import paired_bootstrap_ci

    means = {mode: sum(r[metric] for r in rows[mode]) / len(rows[mode]) for mode in ("bm25", "dense")}
    best = max(means, key=means.get)
    fused, single = [r[metric] for r in rows["hybrid_graph"]], [r[metric] for r in rows[best]]
    low, high = paired_bootstrap_ci(fused, single)
    point = (sum(fused) - sum(single)) / len(fused)
    return {"over": best, "points": round(100 * point, 1), "ci95_points": [round(100 * low, 1), round(100 * high, 1)]}


def _percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p95), nearest-rank: the one percentile definition every bench uses."""
    return round(percentile(samples, 50), 2), round(percentile(samples, 95), 2)


def latency(retriever, queries: list[dict], repeats: int) -> dict[str, float]:
    """End-to-end search latency and its parts, in milliseconds."""
    retriever.search(queries[0]["query"], 5)  # warm-up: model load, first matmul
    total, embed, score = [], [], []
    for _ in range(repeats):
        for q in queries:
            t0 = time.perf_counter()
            vec = retriever.embed(q["query"])
            t1 = time.perf_counter()
            retriever.search(q["query"], 5, query_vector=vec)
            t2 = time.perf_counter()
            embed.append((t1 - t0) * 1000)
            score.append((t2 - t1) * 1000)
            total.append((t2 - t0) * 1000)
    p50, p95 = _percentiles(total)
    e50, e95 = _percentiles(embed)
    s50, s95 = _percentiles(score)
    return {"p50_ms": p50, "p95_ms": p95, "embed_p50_ms": e50, "embed_p95_ms": e95, "search_p50_ms": s50,
            "search_p95_ms": s95}


def qdrant_latency(retriever, queries: list[dict], vectors: list[np.ndarray]) -> dict[str, float]:
    """Qdrant local mode's own query_points (dense + BM25 prefetch, RRF fusion), for comparison."""
    from qdrant_client import models

    from ibert_jupyter.retrieval.index import store

    q = retriever.manifest["qdrant"]
    client = store.open_client(Path(q["path"]) if q["path"] else None, q["url"])
    samples = []
    try:
        for item, vec in zip(queries, vectors):
            ids, vals = retriever.bm25.encode_query(item["query"])
            t0 = time.perf_counter()
            client.query_points(
                q["collection"],
                prefetch=[
                    models.Prefetch(query=vec.tolist(), using=store.DENSE, limit=50),
                    models.Prefetch(query=models.SparseVector(indices=ids, values=vals), using=store.SPARSE, limit=50),
                ],
                query=models.FusionQuery(fusion=models.Fusion.RRF),
                limit=10,
            )
            samples.append((time.perf_counter() - t0) * 1000)
    finally:
        client.close()
    p50, p95 = _percentiles(samples)
    return {"qdrant_query_p50_ms": p50, "qdrant_query_p95_ms": p95}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--queries", type=Path, default=None, help="labeled queries (JSONL); default: the packaged set")
    parser.add_argument("--heldout", type=Path, default=None,
                        help="second labeled set, reported under 'heldout'; default: the packaged held-out set")
    parser.add_argument("--no-heldout", action="store_true", help="skip the second labeled set")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the index first (build time is measured)")
    parser.add_argument("--finetune-steps", type=int, default=120, help="fine-tuning steps when no fine-tuned model exists")
    parser.add_argument("--finetune-batch-size", type=int, default=32, help="pairs per fine-tuning step")
    parser.add_argument("--retrain", action="store_true", help="fine-tune again even if a fine-tuned model exists")
    parser.add_argument("--no-finetune", action="store_true", help="skip the fine-tuned variant (reported as null)")
    parser.add_argument("--latency-repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="(always on) last line is one JSON object")


def benchmark_questions() -> list[str]:
    """Every question of both packaged sets: kept out of fine-tuning pairs (``finetune.mine_pairs``)."""
    return [q["query"] for path in (default_queries_path(), heldout_queries_path()) for q in load_queries(path)]


def _ensure_finetuned(args, queries: list[dict]) -> tuple[Path | None, dict | None]:
    from ibert_jupyter.retrieval import paths
    from ibert_jupyter.retrieval.corpus.chunks import build_corpus
    from ibert_jupyter.retrieval.encode.models import is_model_dir
    from ibert_jupyter.training import embedder

    if args.no_finetune:
        return None, None
    out = paths.finetuned_model_dir()
    if is_model_dir(out) and not args.retrain:
        return out, {"reused": str(out)}
    pairs = embedder.mine_pairs(build_corpus(), [q["query"] for q in queries] + benchmark_questions())
    print(f"[bench retrieval] fine-tuning on {len(pairs)} mined pairs", file=sys.stderr)
    return out, embedder.train(pairs, out, steps=args.finetune_steps, batch_size=args.finetune_batch_size)


def quality(retriever, queries: list[dict], vectors: list[np.ndarray], label: str) -> tuple[dict, dict]:
    """Every mode's mean metrics on ``queries``, and hybrid + graph's gain with its interval."""
    results: dict[str, dict[str, float]] = {}
    rows: dict[str, list[dict[str, float]]] = {}
    for mode in MODES:
        rows[mode] = per_query(retriever, queries, mode, vectors if mode != "bm25" else None)
        results[mode] = mean_metrics(rows[mode])
        print(f"[bench retrieval] {label} {mode}: {results[mode]}", file=sys.stderr)
    gain = gain_interval(rows)
    print(f"[bench retrieval] {label}: hybrid_graph over {gain['over']}: {gain['points']:+} Recall@5 points, "
          f"95% bootstrap interval over queries {gain['ci95_points']}", file=sys.stderr)
    return results, gain


def finetuned_quality(tuned, queries: list[dict], label: str) -> tuple[dict, dict]:
    """(hybrid + graph, dense alone) metrics with the fine-tuned embedder."""
    vectors = [tuned.embed(q["query"]) for q in queries]
    ft, ft_dense = (evaluate(tuned, queries, mode, vectors) for mode in ("hybrid_graph", "dense"))
    print(f"[bench retrieval] {label} finetuned: {ft}; dense alone: {ft_dense}", file=sys.stderr)
    return ft, ft_dense


def run(args: argparse.Namespace) -> int:
    from ibert_jupyter.retrieval import paths
    from ibert_jupyter.retrieval.index.build import build_index, is_outdated, read_manifest
    from ibert_jupyter.retrieval.rank.retriever import Retriever

    queries = load_queries(args.queries or default_queries_path())
    ft_dir, ft_report = _ensure_finetuned(args, queries)
    manifest = read_manifest(paths.index_dir())
    needs_ft = ft_dir is not None and (manifest or {}).get("finetuned_model") != str(ft_dir)
    if manifest is None or is_outdated(manifest) or args.rebuild or needs_ft or (ft_report and "reused" not in ft_report):
        print("[bench retrieval] building the index", file=sys.stderr)
        build_index(finetuned_model=ft_dir)
    base = Retriever()
    print(f"[bench retrieval] {len(queries)} queries, {len(base.chunks)} chunks", file=sys.stderr)
    vectors = [base.embed(q["query"]) for q in queries]
    results, gain = quality(base, queries, vectors, "labeled")
    heldout = None
    if not args.no_heldout:
        held = load_queries(args.heldout or heldout_queries_path())
        held_results, held_gain = quality(base, held, [base.embed(q["query"]) for q in held], "held-out")
        heldout = {"queries": len(held),
                   **{metric: {m: held_results[m][metric] for m in MODES} for metric in ("recall_at_5", "mrr")},
                   "hybrid_graph_gain_recall_at_5_points": held_gain["points"],
                   "hybrid_graph_gain_recall_at_5_ci95_points": held_gain["ci95_points"]}
    if ft_dir is not None:
        tuned = Retriever(finetuned=True)
        results["finetuned"], results["finetuned_dense"] = finetuned_quality(tuned, queries, "labeled")
        if heldout is not None:
            ft, ft_dense = finetuned_quality(tuned, held, "held-out")
            heldout["recall_at_5"].update(finetuned=ft["recall_at_5"], finetuned_dense=ft_dense["recall_at_5"])
            heldout["mrr"]["finetuned"] = ft["mrr"]
    lat = latency(base, queries, args.latency_repeats)
    lat.update(qdrant_latency(base, queries, vectors))
    keys = ("bm25", "dense", "hybrid", "hybrid_graph", "finetuned")
    summary = {
        **{metric: {k: results[k][metric] if k in results else None for k in keys}
           for metric in ("recall_at_5", "mrr", "ndcg_at_10", "hit_at_5")},
        "finetuned_dense": results.get("finetuned_dense"),
        **lat,
        "queries": len(queries),
        "chunks": len(base.chunks),
        "graph": base.manifest["graph_source"],
        "embed_model": base.manifest.get("embed_model") or "all-MiniLM-L6-v2 (bundled)",
        "hybrid_graph_gain_recall_at_5_points": gain["points"],
        "hybrid_graph_gain_recall_at_5_ci95_points": gain["ci95_points"],
        "heldout": heldout,
        "index_build_seconds": base.manifest["build_seconds"],
        "index_build_timings": base.manifest["timings"],
        "finetune": ft_report,
        "ibis_version": base.manifest["ibis_version"],
    }
    print(json.dumps(summary))
    return 0
