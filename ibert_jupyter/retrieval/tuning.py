"""Choose fusion/graph weights on docstring-derived dev queries, never on the labeled benchmark set.

Dev queries are description sentences from docstrings *after* the summary line (the summary is
part of what the embedder indexes, so it would be an unfair query), each paired with the symbol
it documents. Any sentence resembling a labeled benchmark query is dropped.
"""

from __future__ import annotations

import itertools
import random

from ibert_jupyter.retrieval.corpus import SYMBOL_KINDS, Chunk
from ibert_jupyter.retrieval.finetune import _sentences, _similar


def dev_queries(chunks: list[Chunk], exclude: list[str], n: int = 200, seed: int = 1) -> list[dict]:
    items = []
    for c in chunks:
        if c.kind in SYMBOL_KINDS and c.summary:
            for sentence in _sentences(c.doc)[1:2]:
                if c.name.lower() not in sentence.lower() and not any(_similar(sentence, q) for q in exclude):
                    items.append({"query": sentence, "relevant": [c.id]})
    random.Random(seed).shuffle(items)
    return items[:n]


GRID = {
    "dense_weight": (0.5, 0.7),
    "prior_weight": (0.0, 0.05, 0.15),
    "vote_weight": (0.0, 0.1, 0.25),
    "vote_relations": (frozenset({"member_by"}), frozenset({"member_by", "example_uses"}),
                       frozenset({"member_by", "example_uses", "references"})),
}


def grid_search(retriever, dev: list[dict], vectors) -> list[tuple[float, dict]]:
    """(mean MRR on dev, settings) for every grid point, best first."""
    from ibert_jupyter.evaluation.bench_retrieval import evaluate

    results = []
    for values in itertools.product(*GRID.values()):
        settings = dict(zip(GRID, values))
        for key, value in settings.items():
            setattr(retriever, key, value)
        retriever._neighbour_rows = retriever._build_neighbour_rows()
        m = evaluate(retriever, dev, "hybrid_graph", vectors)
        results.append((m["mrr"], m["recall_at_5"], settings))
    results.sort(key=lambda r: (-r[0], -r[1]))
    return results
