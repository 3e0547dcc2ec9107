"""Score fusion and re-ranking: a tiny linear model over per-candidate features.

Candidates are the union of the dense and BM25 top lists and, in hybrid + graph, the top 20 by
best view (a symbol whose peer or SQL-function description matches a question that its own
docstring and signature miss). Each gets a few features: the two retrievers' scores
normalised per query and their ranks (so a strong retriever's confident hit is not outvoted
by symbols that merely sit in both lists, as with rank fusion), BM25 over names and
summaries alone, whether the query names the symbol or its class, priors from the symbol
graph (how much of Ibis and of the TPC example programs uses it), and the best similarity
over the symbol's short embedded views (name, summary, body sentences, parameter
descriptions, DuckDB's description of its SQL function, pandas', DuckDB's and Arrow's description
of the same-named method, the glossary's aliases: ``views.py``) with the kind of view that matched. The fused score is
``sigmoid(weights · features)``. Weights are fitted on docstring-derived dev queries (``tuning/weights.py``),
never on the labeled benchmark queries, and shipped below. Per-chunk arrays are built at
load time, so ranking a query is a few vector operations.

Tried on the dev queries and left out because they lowered Recall@5 there: collapsing twins
(the same method on related classes, ``ibis.x`` next to ``Table.x``) into one hit, sharing
a twin's score with its family, votes along graph edges (class → members, example →
what it calls). A usage prior (calls of each name in Ibis's own test suites and doctests)
fitted to weight 0.21 but left dev Recall@5 unchanged (0.801); weighting the dev queries by
that usage (sqrt) lowered dev Recall@5 to 0.787: neither is shipped. The views' top list as
extra candidates leaves dev Recall@5 unchanged (dev queries are Ibis's own sentences, which
BM25 and the dense text already reach); it is kept for the questions they do not reach.
Keeping each retriever's first hit in the top five, needed before the ranker had rank
features, now costs: mean two-fold dev Recall@5 0.754 with it, 0.758 without (2026-11-22).
Two more ways to trust other authors' words lowered the dev check on Ibis's own sentences (mean
of body/params/returns 0.730 without either) and did not raise it on the other-authors source:
each symbol's rank by its best SQL/peer view (0.722; other authors 0.843 -> 0.839), and BM25 over
those descriptions as two features (0.725; 0.843 -> 0.839). Holding each description out of its
own symbols only, instead of every symbol's, gave 0.721 and 0.717 (other authors 0.879 -> 0.867, 0.879).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csc_matrix

from ibert_jupyter.retrieval.corpus.chunks import Chunk
from ibert_jupyter.retrieval.corpus.graph import SymbolGraph
from ibert_jupyter.retrieval.encode.sparse import tokenize

CANDIDATES = 50  # per retriever
VIEW_CANDIDATES = 20  # rows whose best view is among the best: a peer's or SQL function's words matched
FUSION_FEATURES = ("dense", "dense_gap", "dense_rank", "bm25", "bm25_rank", "bm25_head")
GRAPH_FEATURES = ("name_match", "class_match", "prior", "example_uses", "is_class", "undocumented")
# multi-vector dense (views.py): best view similarity, and which kind of view matched
VIEW_FEATURES = ("view", "view_gap", "view_rank", "view_name", "view_summary", "view_body", "view_param",
                 "view_sql", "view_peer", "view_alias")
FEATURES = FUSION_FEATURES + GRAPH_FEATURES + VIEW_FEATURES

# Fitted by `python -m ibert_jupyter.retrieval.tuning` on all dev queries (body 172, params 362, returns 234,
# outside 289; L2 0.01; each dev query's own sentence held out of the target's BM25 text and views). Two-fold
# check Recall@5, hybrid_graph (hybrid): body 0.6104 (0.5814), params 0.7266 (0.7072), returns 0.8632 (0.8504),
# outside 0.8634 (0.7823). Without the glossary's alias views (same code, refitted): 0.6047, 0.721, 0.8589, 0.8359.
WEIGHTS = {
    "hybrid": {"dense": 2.18, "dense_gap": 1.158, "dense_rank": 1.264, "bm25": 2.177, "bm25_rank": 1.105,
                "bm25_head": 0.906},
    "hybrid_graph": {"dense": 1.155, "dense_gap": 0.578, "dense_rank": 0.765, "bm25": 1.507, "bm25_rank": 0.694,
                     "bm25_head": 0.557, "name_match": 0.294, "class_match": -0.681, "prior": 0.145,
                     "example_uses": 0.578, "is_class": -0.691, "undocumented": -1.249, "view": 1.116,
                     "view_gap": 0.649, "view_rank": 0.811, "view_name": 0.495, "view_summary": 0.579,
                     "view_body": 0.429, "view_param": -0.564, "view_sql": 0.596, "view_peer": 0.607,
                     "view_alias": 1.333},
}
# An index without views (older builds; the fine-tuned model, whose views are not embedded): fitted
# the same way without the view features.
WEIGHTS_NO_VIEWS = {
    "hybrid": WEIGHTS["hybrid"],
    "hybrid_graph": {"dense": 2.277, "dense_gap": 1.241, "dense_rank": 1.368, "bm25": 1.918, "bm25_rank": 0.978,
                     "bm25_head": 0.82, "name_match": 0.481, "class_match": -0.648, "prior": 0.256,
                     "example_uses": 0.604, "is_class": -0.723, "undocumented": -1.34},
}


def _token_matrix(token_lists: list[list[str]], vocab: dict[str, int]) -> csc_matrix:
    """Rows: chunks; columns: vocabulary; 1/len where the chunk's token list has the term."""
    rows, cols, vals = [], [], []
    for r, tokens in enumerate(token_lists):
        known = sorted({vocab[t] for t in tokens if t in vocab})
        rows += [r] * len(known)
        cols += known
        vals += [1.0 / max(len(known), 1)] * len(known)
    return csc_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)), shape=(len(token_lists), len(vocab)))


@dataclass
class ChunkFeatures:
    """Per-chunk arrays the query-time features are read from."""

    name_tokens: csc_matrix  # share of the symbol's name tokens the query contains
    class_tokens: csc_matrix  # same for the class that owns it (or the class itself)
    prior: np.ndarray  # log-scaled references across Ibis, in [0, 1]
    example_uses: np.ndarray  # log-scaled count of example programs calling it, in [0, 1]
    is_class: np.ndarray
    undocumented: np.ndarray

    @classmethod
    def build(cls, chunks: list[Chunk], graph: SymbolGraph, vocab: dict[str, int]) -> "ChunkFeatures":
        by_id = {c.id: c for c in chunks}

        def owner(c: Chunk) -> str:
            parent = by_id.get(c.parent) if c.parent else None
            return parent.public_name.rsplit(".", 1)[-1] if parent else (c.name if c.kind == "class" else "")

        uses = graph.example_use_counts()
        top = max(uses.values(), default=1)
        return cls(
            name_tokens=_token_matrix([tokenize(c.name) for c in chunks], vocab),
            class_tokens=_token_matrix([tokenize(owner(c)) for c in chunks], vocab),
            prior=np.asarray([graph.prior(c.id) for c in chunks], dtype=np.float32),
            example_uses=np.asarray([np.log1p(uses.get(c.id, 0)) / np.log1p(top) for c in chunks], dtype=np.float32),
            is_class=np.asarray([c.kind == "class" for c in chunks], dtype=np.float32),
            undocumented=np.asarray([not c.summary for c in chunks], dtype=np.float32),
        )


def top_rows(scores: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` best rows, unordered."""
    n = min(n, len(scores))
    return np.argpartition(-scores, n - 1)[:n]


def view_best(dense: np.ndarray, views: np.ndarray) -> np.ndarray:
    """Each chunk's best similarity over its views and its own chunk vector."""
    return np.maximum(dense, views.max(axis=0))


def candidates(dense: np.ndarray, bm25: np.ndarray, n: int = CANDIDATES, views: np.ndarray | None = None,
               n_views: int = VIEW_CANDIDATES) -> np.ndarray:
    """Rows in either retriever's top ``n`` (BM25 rows need a positive score) or the views' top ``n_views``."""
    top_bm25 = top_rows(bm25, n)
    rows = np.union1d(top_rows(dense, n), top_bm25[bm25[top_bm25] > 0])
    if views is not None and n_views > 0:
        rows = np.union1d(rows, top_rows(views.max(axis=0), n_views))
    return rows


def _reciprocal_rank(scores: np.ndarray) -> np.ndarray:
    """1 for the best candidate, 1/2 for the next...: a retriever's confidence in its order."""
    ranks = np.empty(len(scores), dtype=np.float32)
    ranks[np.argsort(-scores, kind="stable")] = np.arange(1, len(scores) + 1)
    return 1.0 / ranks


def _view_columns(rows: np.ndarray, dense: np.ndarray, views: np.ndarray | None) -> list[np.ndarray]:
    if views is None:
        return [np.zeros(len(rows), dtype=np.float32)] * len(VIEW_FEATURES)
    d = dense[rows]
    v = view_best(d, views[:, rows])
    v_max, v_min = float(v.max()), float(v.min())
    per_kind = [np.where(views[k, rows] > -1, views[k, rows], d) - v_max for k in range(views.shape[0])]
    return [(v - v_min) / (v_max - v_min) if v_max > v_min else np.ones_like(v), v - v_max, _reciprocal_rank(v),
            *per_kind]


def features(rows: np.ndarray, dense: np.ndarray, bm25: np.ndarray, head: np.ndarray, query_ids: list[int],
             chunk_features: ChunkFeatures, views: np.ndarray | None = None) -> np.ndarray:
    """Feature matrix (len(rows), len(FEATURES)) for one query's candidates."""
    d = dense[rows]
    d_max, d_min = float(d.max()), float(d.min())
    b = bm25[rows]
    b_max = float(b.max())
    h = head[rows]
    h_max = float(h.max())
    f = chunk_features
    if query_ids:  # column slices of CSC matrices are cheap; rows are picked afterwards
        name = np.asarray(f.name_tokens[:, query_ids].sum(axis=1)).ravel()[rows]
        owner = np.asarray(f.class_tokens[:, query_ids].sum(axis=1)).ravel()[rows]
    else:
        name = owner = np.zeros(len(rows), dtype=np.float32)
    d_rank = _reciprocal_rank(d)
    b_rank = np.where(b > 0, _reciprocal_rank(b), 0.0)
    return np.column_stack([
        (d - d_min) / (d_max - d_min) if d_max > d_min else np.ones_like(d),
        d - d_max,
        d_rank,
        b / b_max if b_max > 0 else np.zeros_like(b),
        b_rank,
        h / h_max if h_max > 0 else np.zeros_like(h),
        name,
        owner,
        f.prior[rows],
        f.example_uses[rows],
        f.is_class[rows],
        f.undocumented[rows],
        *_view_columns(rows, dense, views),
    ]).astype(np.float32)


def weight_vector(weights: dict[str, float]) -> np.ndarray:
    unknown = set(weights) - set(FEATURES)
    if unknown:
        raise ValueError(f"unknown ranking features {sorted(unknown)}; known: {', '.join(FEATURES)}")
    return np.asarray([weights.get(name, 0.0) for name in FEATURES], dtype=np.float32)


def fused_scores(n_chunks: int, rows: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """sigmoid(x · w) on the candidate rows; -inf elsewhere (not a candidate)."""
    out = np.full(n_chunks, -np.inf, dtype=np.float32)
    out[rows] = 1.0 / (1.0 + np.exp(-(x @ w)))
    return out


def fit(groups: list[tuple[np.ndarray, np.ndarray]], names: tuple[str, ...], l2: float = 0.01) -> dict[str, float]:
    """Listwise logistic fit: maximise the softmax probability of each dev query's relevant rows.

    ``groups`` holds one (features, is_relevant) pair per query, features restricted to
    ``names``. The loss is convex and L-BFGS starts from zero, so the result is deterministic.
    """
    from scipy.optimize import minimize

    cols = [FEATURES.index(n) for n in names]
    data = [(x[:, cols].astype(np.float64), y.astype(bool)) for x, y in groups if y.any()]
    if not data:
        raise ValueError("no dev query has its relevant symbol among the candidates; nothing to fit")

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros_like(w)
        for x, y in data:
            s = x @ w
            s -= s.max()
            p = np.exp(s)
            p /= p.sum()
            pos = y / y.sum()
            total -= float(pos @ (s - np.log(np.exp(s).sum())))
            grad -= (pos - p) @ x
        return total / len(data) + l2 * float(w @ w), grad / len(data) + 2 * l2 * w

    result = minimize(loss, np.zeros(len(cols)), jac=True, method="L-BFGS-B")
    return {n: round(float(v), 3) for n, v in zip(names, result.x)}
