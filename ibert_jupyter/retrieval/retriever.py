"""Query the index: BM25, dense, their fusion, and fusion re-ranked with the symbol graph.

Fusion is reciprocal-rank fusion (RRF) over the top candidates of each retriever. The graph
stage then adds (a) a structural prior — how much of Ibis uses the symbol — and (b) votes
passed along graph edges from other strong candidates: a matching example program votes for
the methods it calls, a matching class for its members. The weights below were chosen by a
grid search on docstring-derived dev queries (``tuning.py``), never on the labeled benchmark
queries. On those dev queries any positive prior or vote weight lowered MRR, so both are 0 by
default: the graph then only expands hits with neighbours (``context``), and callers can turn
the re-rank on by setting ``prior_weight`` / ``vote_weight`` on a Retriever.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ibert_jupyter.retrieval import paths
from ibert_jupyter.retrieval.build import read_manifest
from ibert_jupyter.retrieval.corpus import SYMBOL_KINDS, Chunk
from ibert_jupyter.retrieval.errors import IndexUnavailable
from ibert_jupyter.retrieval.graph import SymbolGraph
from ibert_jupyter.retrieval.sparse import BM25Encoder

MODES = ("bm25", "dense", "hybrid", "hybrid_graph")
CANDIDATES = 50  # per retriever, before fusion
RRF_K = 60
DENSE_WEIGHT = 0.5  # share of the dense list in the fusion (BM25 gets the rest)
PRIOR_WEIGHT = 0.0  # structural prior, relative to a normalised fused score of 1 (dev grid: 0 best)
VOTE_WEIGHT = 0.0  # share of a neighbour's fused score passed along an edge (dev grid: 0 best)
# relation seen from the voter: a class votes for its members, an example for what it calls,
# a function for what it references
VOTE_RELATIONS = {"member_by", "example_uses", "references"}


@dataclass(frozen=True)
class SearchHit:
    """A ranked symbol with what a prompt or a person needs to use it."""

    id: str
    public_name: str
    kind: str
    signature: str
    summary: str
    score: float
    file: str
    line: int
    path: str  # absolute path of the source file
    neighbours: tuple[str, ...] = field(default_factory=tuple)

    @property
    def url(self) -> str:
        return f"file://{self.path}#L{self.line}"

    def to_dict(self) -> dict:
        return {**self.__dict__, "neighbours": list(self.neighbours), "url": self.url}

    def prompt_text(self) -> str:
        """Compact form for generation/repair prompts."""
        return f"{self.public_name}{self.signature}\n    {self.summary}".rstrip()


class Retriever:
    """An opened index: vectors in memory (copied from Qdrant), graph and BM25 vocabulary."""

    def __init__(self, index_dir: Path | None = None, *, finetuned: bool = False) -> None:
        from ibert_jupyter.retrieval import store

        index_dir = index_dir or paths.index_dir()
        manifest = read_manifest(index_dir)
        if manifest is None:
            raise IndexUnavailable(
                f"no retrieval index for ibis {paths.ibis_version()} at {index_dir}; build it with `ibert index`"
            )
        self.manifest = manifest
        self.index_dir = index_dir
        self.bm25 = BM25Encoder.load(index_dir / "bm25.json")
        self.graph = SymbolGraph.load(index_dir / "graph.json")
        q = manifest["qdrant"]
        client = store.open_client(Path(q["path"]) if q["path"] else None, q["url"])
        try:
            arrays = store.load_arrays(client, q["collection"], len(self.bm25.vocab))
        except LookupError as exc:
            raise IndexUnavailable(f"{exc}; rebuild with `ibert index --force`") from exc
        finally:
            client.close()
        self.chunks: list[Chunk] = arrays.chunks
        self.sparse = arrays.sparse
        if finetuned and arrays.dense_ft is None:
            raise IndexUnavailable("the index has no fine-tuned vectors; build with `ibert index --finetuned PATH`")
        self.dense = arrays.dense_ft if finetuned else arrays.dense
        self.model_path = manifest["finetuned_model"] if finetuned else None
        self.row = {c.id: i for i, c in enumerate(self.chunks)}
        self.prior = np.asarray([self.graph.prior(c.id) for c in self.chunks], dtype=np.float32)
        self.is_symbol = np.asarray([c.kind in SYMBOL_KINDS for c in self.chunks])
        self.prior_weight, self.vote_weight = PRIOR_WEIGHT, VOTE_WEIGHT
        self.vote_relations, self.dense_weight = VOTE_RELATIONS, DENSE_WEIGHT
        self._neighbour_rows = self._build_neighbour_rows()
        self.source_root = paths.ibis_source_dir().parent

    def _build_neighbour_rows(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.chunks]
        for i, c in enumerate(self.chunks):
            for relation, other in self.graph.neighbours(c.id):
                if relation in self.vote_relations and other in self.row:
                    out[i].append(self.row[other])
        return out

    # --- retrievers -------------------------------------------------------------------
    def embed(self, query: str) -> np.ndarray:
        from ibert_jupyter.retrieval.dense import encode

        return encode([query], self.model_path)[0]

    def bm25_scores(self, query: str) -> np.ndarray:
        ids, _ = self.bm25.encode_query(query)
        if not ids:
            return np.zeros(len(self.chunks), dtype=np.float32)
        return np.asarray(self.sparse[:, ids].sum(axis=1)).ravel()

    def dense_scores(self, query_vector: np.ndarray) -> np.ndarray:
        return self.dense @ query_vector

    @staticmethod
    def _top(scores: np.ndarray, n: int) -> np.ndarray:
        n = min(n, len(scores))
        idx = np.argpartition(-scores, n - 1)[:n]
        return idx[np.argsort(-scores[idx], kind="stable")]

    def scores(self, query: str, mode: str = "hybrid_graph", query_vector: np.ndarray | None = None) -> np.ndarray:
        """One score per chunk (higher is better); non-candidates score 0 in fused modes."""
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
        if mode == "bm25":
            return self.bm25_scores(query)
        vec = self.embed(query) if query_vector is None else query_vector
        dense_scores = self.dense_scores(vec)
        if mode == "dense":
            return dense_scores
        sparse_scores = self.bm25_scores(query)
        fused = np.zeros(len(self.chunks), dtype=np.float32)
        for s, weight in ((dense_scores, self.dense_weight), (sparse_scores, 1.0 - self.dense_weight)):
            top = self._top(s, CANDIDATES)
            top = top[s[top] > 0] if s is sparse_scores else top
            fused[top] += weight / (RRF_K + np.arange(1, len(top) + 1))
        if mode == "hybrid":
            return fused
        return self._graph_rerank(fused)

    def _graph_rerank(self, fused: np.ndarray) -> np.ndarray:
        if fused.max() <= 0:
            return fused
        norm = fused / fused.max()
        candidates = np.flatnonzero(norm)
        votes = np.zeros_like(norm)
        for i in candidates:
            for j in self._neighbour_rows[i]:
                votes[j] = max(votes[j], self.vote_weight * norm[i])  # strongest voter counts, not the crowd
        out = norm + votes
        touched = out > 0
        out[touched] += self.prior_weight * self.prior[touched]
        return out

    # --- public -----------------------------------------------------------------------
    def search(self, query: str, k: int = 5, *, mode: str = "hybrid_graph", kinds: tuple[str, ...] = SYMBOL_KINDS,
               query_vector: np.ndarray | None = None) -> list[SearchHit]:
        if not isinstance(query, str) or not query.strip():
            raise ValueError("search query must be a non-empty string")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        scores = self.scores(query, mode, query_vector)
        mask = np.asarray([c.kind in kinds for c in self.chunks]) if kinds != SYMBOL_KINDS else self.is_symbol
        scores = np.where(mask, scores, -np.inf)
        hits = []
        for i in self._top(scores, k):
            if not np.isfinite(scores[i]) or (mode != "dense" and scores[i] <= 0):
                break
            hits.append(self._hit(int(i), float(scores[i])))
        return hits

    def _hit(self, i: int, score: float) -> SearchHit:
        c = self.chunks[i]
        neighbours = tuple(self.chunks[j].public_name for j in self._neighbour_rows[i][:8])
        return SearchHit(id=c.id, public_name=c.public_name, kind=c.kind, signature=c.signature, summary=c.summary,
                         score=round(score, 5), file=c.file, line=c.line, path=str(self.source_root / c.file),
                         neighbours=neighbours)

    def context(self, hit: SearchHit, limit: int = 5) -> list[Chunk]:
        """Graph neighbours of a hit (its class, what it calls, who calls it) for prompt expansion."""
        return [self.chunks[j] for j in self._neighbour_rows[self.row[hit.id]][:limit]]


_LOCK = threading.Lock()
_OPEN: dict[tuple[str, bool], Retriever] = {}


def get_retriever(index_dir: Path | None = None, *, finetuned: bool = False) -> Retriever:
    """The process-wide retriever for the installed Ibis (opened once, reopened after a rebuild)."""
    index_dir = index_dir or paths.index_dir()
    key = (str(index_dir), finetuned)
    with _LOCK:
        current = _OPEN.get(key)
        manifest = read_manifest(index_dir)
        if current is None or manifest is None or manifest.get("built_at") != current.manifest.get("built_at"):
            _OPEN[key] = current = Retriever(index_dir, finetuned=finetuned)
        return current


def search(query: str, k: int = 5) -> list[SearchHit]:
    """Top-k Ibis symbols for a natural-language query (hybrid + graph); raises IndexUnavailable."""
    return get_retriever().search(query, k)
