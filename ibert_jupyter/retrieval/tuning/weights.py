"""Dev queries for fitting ranking weights — derived from docstrings, never the labeled benchmark set.

Four sources, each paired with the symbol it came from:

- ``body``: prose sentences of a docstring's body (after the summary paragraph, so the dense
  text never contains them; section headers and their entries are not prose: ``docstrings.py``);
- ``params`` / ``returns``: the first sentence of parameter and return descriptions;
- ``outside``: other authors' descriptions of the symbol's operation (``outside_queries``).

A docstring sentence is part of its symbol's BM25 text, which would hand BM25 an exact-match
win no user query gets, so ``held_out_scores`` scores the target as if the sentence had been
left out of its document; ``prepare`` likewise leaves the sentence's own view (``views.py``)
out of the target's view vectors. Boilerplate shared by several symbols is dropped, so is any
sentence that spells the symbol's identifier (``group_by``) or resembles a labeled benchmark
query (token Jaccard >= 0.6).

Summary lines read more like questions, but holding one out removes the target's summary
while every other symbol keeps its own, which teaches the ranker to distrust summary matches;
they are not used.

``python -m ibert_jupyter.retrieval.tuning`` reports every mode two-fold (fit the ranker,
``ranking.fit``, on one half of every source, check on the other half, swap) and prints the
weights fitted on all dev queries, which ``ranking.WEIGHTS`` ships. Before 2026-11-22 the body
source let section headers through ("Parameters ---------- con An existing connection"):
198 of its 430 queries; fitting on body sentences alone was chosen on that data. On the clean
sources, fitting on all four gives the better mean two-fold check (0.749 vs 0.734 for body alone;
higher on each of the four).
"""

from __future__ import annotations

import random
import re

import numpy as np

from ibert_jupyter.retrieval.corpus.chunks import SYMBOL_KINDS, Chunk
from ibert_jupyter.retrieval.corpus.docstrings import body, clean, described, flat, sections, sentences
from ibert_jupyter.retrieval.encode.sparse import similar
from ibert_jupyter.retrieval.index.views import KINDS, OUTSIDE_SOURCES, PARAMS
from ibert_jupyter.retrieval.rank.retriever import MODES


def _spells_identifier(sentence: str, name: str) -> bool:
    """``group_by`` / ``GroupBy`` written out; a plain word (``mean``) is how users ask too."""
    is_code = "_" in name.strip("_") or re.search(r"[a-z][A-Z]", name) is not None
    return is_code and name.lower() in sentence.lower()


def _kept(candidates: list[dict], exclude: list[str], seed: int) -> list[dict]:
    """Dev items minus short or shared sentences, identifier spellings and benchmark look-alikes; shuffled."""
    counts: dict[str, int] = {}
    for it in candidates:
        counts[it["query"].lower()] = counts.get(it["query"].lower(), 0) + 1
    items = [it for it in candidates
             if len(it["query"]) >= 12 and counts[it["query"].lower()] == 1
             and not _spells_identifier(it["query"], it["relevant"][0].rsplit(".", 1)[-1])
             and not any(similar(it["query"], q) for q in exclude)]
    random.Random(seed).shuffle(items)
    return items


def dev_queries(chunks: list[Chunk], exclude: list[str], n: int | None = None, seed: int = 1,
                per_symbol: int = 2) -> list[dict]:
    """Up to ``per_symbol`` body prose sentences per documented symbol, shuffled; ``n`` caps the count."""
    items = _kept([{"query": clean(raw), "relevant": [c.id], "held_out": raw}
                   for c in chunks if c.kind in SYMBOL_KINDS and c.summary
                   for raw in sentences(body(c.doc))[:per_symbol]], exclude, seed)
    return items if n is None else items[:n]


def section_queries(chunks: list[Chunk], exclude: list[str], section: str, per_symbol: int,
                    seed: int = 1) -> list[dict]:
    """The first sentence of the first ``per_symbol`` entries of a docstring section, as dev queries.

    ``Parameters`` entries say what a call takes ("Columns to group by"), ``Returns`` what it
    produces ("A new table containing the union of all input tables"), in words less tied to
    the body prose. Each is also a ``param`` view of its symbol (``views.py``: the first
    ``PARAMS`` parameters and the return), held out like the body sentences.
    """
    return _kept([{"query": clean(raw), "relevant": [c.id], "held_out": raw}
                  for c in chunks if c.kind in SYMBOL_KINDS and c.summary
                  for raw in described(sections(c.doc).get(section, ""), cleaned=False)[:per_symbol]],
                 exclude, seed)


def param_queries(chunks: list[Chunk], exclude: list[str], seed: int = 1) -> list[dict]:
    return section_queries(chunks, exclude, "Parameters", PARAMS, seed)


def returns_queries(chunks: list[Chunk], exclude: list[str], seed: int = 1) -> list[dict]:
    return section_queries(chunks, exclude, "Returns", 1, seed)


# the views other packages' authors wrote: "sql", "peer"; the glossary is ours and stays visible to every query
OUTSIDE_KINDS = tuple(k for k in OUTSIDE_SOURCES if k != "alias")
_OUTSIDE_ROWS = [KINDS.index(k) for k in OUTSIDE_KINDS]  # their rows in ViewIndex.kind_scores


def outside_queries(retriever, exclude: list[str], seed: int = 1) -> list[dict]:
    """Other authors' descriptions of a symbol's operation, asked as questions.

    DuckDB's description of the SQL function a symbol compiles to and pandas', DuckDB's
    or Arrow's description of its same-named method (the ``sql`` and ``peer`` views) are paraphrases
    of what the symbol does in words its own docstring does not use: the situation of a user's
    question. They are in no symbol's BM25 or dense text, so nothing is held out there; while
    scoring them, the ``sql`` and ``peer`` views of *every* symbol are left out, so no
    candidate gets a view match the target cannot have. A description several symbols share
    (``strftime`` of dates, times and timestamps) counts all of them relevant.
    """
    views = retriever.views
    if views is None:
        return []
    owners: dict[str, list[str]] = {}
    for owner, kind, text in zip(views.owner, views.kind, views.texts):
        if int(kind) in _OUTSIDE_ROWS:
            ids = owners.setdefault(str(text), [])
            if retriever.chunks[int(owner)].id not in ids:
                ids.append(retriever.chunks[int(owner)].id)
    items = [{"query": text, "relevant": ids, "held_out": "", "outside": True} for text, ids in owners.items()
             if len(text) >= 12 and not any(similar(text, q) for q in exclude)]
    random.Random(seed).shuffle(items)
    return items


def _held_out_bm25(encoder, scores: np.ndarray, row: int, query: str, text: str, held_out: str) -> np.ndarray:
    scores = scores.copy()
    q_ids = set(encoder.encode_query(query)[0])
    ids, vals = encoder.encode_document(flat(text).replace(flat(held_out), " "))
    scores[row] = sum(v for i, v in zip(ids, vals) if i in q_ids)
    return scores


def held_out_scores(retriever, item: dict, vector: np.ndarray):
    """(dense, BM25, head BM25) scores of a dev query, its sentence held out of the target's BM25 text."""
    query, held_out = item["query"], item["held_out"]
    if not held_out:
        return retriever.dense_scores(vector), retriever.bm25_scores(query), retriever.head_scores(query)
    row = retriever.row[item["relevant"][0]]
    chunk = retriever.chunks[row]
    sparse = _held_out_bm25(retriever.bm25, retriever.bm25_scores(query), row, query, chunk.sparse_text(), held_out)
    return retriever.dense_scores(vector), sparse, retriever.head_scores(query)


def prepare(retriever, items: list[dict]) -> list[dict]:
    """Each dev item with its held-out retriever scores (queries embedded once, in batches)."""
    from ibert_jupyter.retrieval.encode.dense import encode

    vectors = encode([it["query"] for it in items], retriever.model_path)
    out = []
    for it, vec in zip(items, vectors):
        dense, sparse, head = held_out_scores(retriever, it, vec)
        if it.get("outside"):  # nobody's sql and peer views: see outside_queries
            views = retriever.view_scores(vec)
            if views is not None:
                views[_OUTSIDE_ROWS] = -1.0
        else:  # the query's own sentence is one of the target's body views: hold it out too
            views = retriever.view_scores(vec, (retriever.row[it["relevant"][0]], it["query"]))
        out.append({**it, "dense": dense, "bm25": sparse, "head": head, "views": views})
    return out


def groups(retriever, prepared: list[dict], views: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:
    """(candidate features, is_relevant) per dev query, for ``ranking.fit``; ``views=False`` as plain hybrid."""
    out = []
    for it in prepared:
        rows, x = retriever.candidate_features(it["query"], it["dense"], it["bm25"], it["head"],
                                               it.get("views") if views else None)
        relevant = {retriever.row[r] for r in it["relevant"]}
        out.append((x, np.asarray([r in relevant for r in rows])))
    return out


def dev_metrics(retriever, prepared: list[dict], mode: str) -> dict[str, float]:
    """Mean Recall@5 / MRR / nDCG@10 / hit@5 of one mode on prepared dev items."""
    from ibert_jupyter.retrieval.tuning.metrics import metrics

    totals: dict[str, float] = {}
    for it in prepared:
        top, _ = retriever.rank(it["query"], mode, it["dense"], it["bm25"], 10, retriever.is_symbol, it["head"],
                                it.get("views"))
        for key, value in metrics([retriever.chunks[i].id for i in top], set(it["relevant"])).items():
            totals[key] = totals.get(key, 0.0) + value
    return {k: round(v / len(prepared), 4) for k, v in totals.items()}


def split(items: list[dict], fraction: float = 0.5) -> tuple[list[dict], list[dict]]:
    """(fit, check) halves: weights are fitted on one, reported on the other."""
    cut = int(len(items) * fraction)
    return items[:cut], items[cut:]


def fit_weights(retriever, prepared: list[dict]) -> dict[str, dict[str, float]]:
    """Weights for both fused modes, fitted on ``prepared`` dev items."""
    from ibert_jupyter.retrieval.rank.ranking import FEATURES, FUSION_FEATURES, fit

    return {"hybrid": fit(groups(retriever, prepared, views=False), FUSION_FEATURES),
            "hybrid_graph": fit(groups(retriever, prepared), FEATURES)}


def no_view_weights(retriever, prepared: list[dict]) -> dict[str, float]:
    """hybrid + graph weights for an index without views (``ranking.WEIGHTS_NO_VIEWS``)."""
    from ibert_jupyter.retrieval.rank.ranking import FUSION_FEATURES, GRAPH_FEATURES, fit

    return fit(groups(retriever, prepared, views=False), FUSION_FEATURES + GRAPH_FEATURES)


def dev_sources(retriever, exclude: list[str]) -> dict[str, list[dict]]:
    """Every dev source, prepared: body prose, parameter and return descriptions, other authors' words."""
    return {"body": prepare(retriever, dev_queries(retriever.chunks, exclude)),
            "params": prepare(retriever, param_queries(retriever.chunks, exclude)),
            "returns": prepare(retriever, returns_queries(retriever.chunks, exclude)),
            "outside": prepare(retriever, outside_queries(retriever, exclude))}


def cross_checked(retriever, sources: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
    """Two-fold Recall@5 per source and mode: fit on one half of every source, check on the other, swap."""
    from ibert_jupyter.retrieval.rank.ranking import weight_vector

    halves = {name: split(items) for name, items in sources.items()}
    totals: dict[str, dict[str, float]] = {name: dict.fromkeys(MODES, 0.0) for name in sources}
    for fit_i, check_i in ((0, 1), (1, 0)):
        weights = fit_weights(retriever, [it for h in halves.values() for it in h[fit_i]])
        retriever.weights = {mode: weight_vector(w) for mode, w in weights.items()}
        for name, h in halves.items():
            for mode in MODES:
                totals[name][mode] += dev_metrics(retriever, h[check_i], mode)["recall_at_5"] / 2
    return {name: {mode: round(v, 4) for mode, v in modes.items()} for name, modes in totals.items()}


def main() -> None:
    """Two-fold checks over all dev sources, then the weights fitted on all of them (what ranking.py ships)."""
    import json
    import sys

    from ibert_jupyter.retrieval.rank.retriever import Retriever
    from ibert_jupyter.retrieval.tuning.metrics import default_queries_path, load_queries

    retriever = Retriever()
    labeled = [q["query"] for q in load_queries(default_queries_path())]  # only to drop look-alikes
    sources = dev_sources(retriever, labeled)
    print(f"[tuning] dev queries: {', '.join(f'{k} {len(v)}' for k, v in sources.items())}", file=sys.stderr)
    check = cross_checked(retriever, sources)
    everything = [it for items in sources.values() for it in items]
    print(json.dumps({"counts": {name: len(items) for name, items in sources.items()},
                      "weights": fit_weights(retriever, everything),
                      "weights_no_views": no_view_weights(retriever, everything), "check_recall_at_5": check}))


if __name__ == "__main__":
    main()
