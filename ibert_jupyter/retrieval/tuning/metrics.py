"""Ranking metrics and the labelled question set, shared by weight tuning and ``ibert bench retrieval``.

They live here, in the core, so tuning never imports the benchmark: ``evaluation/bench_retrieval.py``
imports them from this module. The labelled questions themselves stay with the benchmark's data
(``ibert_jupyter/evaluation/data``); tuning reads them only to drop look-alike dev queries.
"""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path


def default_queries_path() -> Path:
    """The labelled questions (``evaluation/data/retrieval_queries.jsonl``), found as package data:
    no evaluation code is imported."""
    return Path(str(resources.files("ibert_jupyter") / "evaluation" / "data" / "retrieval_queries.jsonl"))


def load_queries(path: Path) -> list[dict]:
    """One ``{"query", "relevant": [symbol ids]}`` per non-blank JSON line; a malformed line names itself."""
    queries = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        if not item.get("query") or not item.get("relevant"):
            raise ValueError(f"{path}:{n}: each line needs 'query' and a non-empty 'relevant' list")
        queries.append(item)
    return queries


def metrics(ranked: list[str], relevant: set[str]) -> dict[str, float]:
    """Recall@5, MRR, nDCG@10 (binary gains) and hit@5 of one ranked list of symbol ids."""
    top5 = ranked[:5]
    recall = len(relevant.intersection(top5)) / len(relevant)
    rr = next((1.0 / (i + 1) for i, s in enumerate(ranked) if s in relevant), 0.0)
    dcg = sum(1.0 / math.log2(i + 2) for i, s in enumerate(ranked[:10]) if s in relevant)
    idcg = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
    return {"recall_at_5": recall, "mrr": rr, "ndcg_at_10": dcg / idcg, "hit_at_5": float(any(s in relevant for s in top5))}
