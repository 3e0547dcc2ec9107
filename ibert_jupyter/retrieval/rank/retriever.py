"""Query the index: BM25, dense, their fusion, and the fusion re-ranked with symbol features.

``hybrid`` combines the per-query normalised BM25 and dense scores of both retrievers' top
candidates with fitted weights (score fusion, not rank fusion: rank fusion let any symbol in
both lists outrank dense's confident first hit). ``hybrid_graph`` — what ``search()``
returns — adds features from the names and the symbol graph: the query names the symbol or
its class, how much of Ibis and of the TPC example programs uses it, class vs member,
documented or not. The weights of both are fitted on docstring-derived dev queries
(``tuning/weights.py``, ``ranking.py``), never on the labeled benchmark queries. Graph neighbours
also expand hits (``context``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ibert_jupyter.retrieval import paths
from ibert_jupyter.retrieval.corpus.chunks import SYMBOL_KINDS, Chunk
from ibert_jupyter.retrieval.corpus.graph import SymbolGraph
from ibert_jupyter.retrieval.encode.models import is_model_dir
from ibert_jupyter.retrieval.encode.sparse import BM25Encoder
from ibert_jupyter.retrieval.errors import IndexUnavailable
from ibert_jupyter.retrieval.index.build import read_manifest
from ibert_jupyter.retrieval.index.views import FILE as VIEWS_FILE
from ibert_jupyter.retrieval.index.views import OUTSIDE_SOURCES, ViewIndex
from ibert_jupyter.retrieval.rank.ranking import (WEIGHTS, WEIGHTS_NO_VIEWS, ChunkFeatures, candidates, features,
                                                  fused_scores, top_rows, weight_vector)

MODES = ("bm25", "dense", "hybrid", "hybrid_graph")
# relations (seen from the hit) that expand it: a class's members, what an example or function uses
CONTEXT_RELATIONS = {"member_by", "example_uses", "references"}


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
    # another package's words that found it ("pandas / DuckDB: Select a subset of columns ..."),
    # when those, not Ibis's own docstring, are what matched the query best
    matched: str = ""

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
        from ibert_jupyter.retrieval.index import store

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
        # queries go through the model the index was embedded with, whatever $IBERT_EMBED_MODEL says now
        self.model_path = manifest["finetuned_model"] if finetuned else manifest.get("embed_model")
        if self.model_path and not is_model_dir(self.model_path):
            raise IndexUnavailable(f"the index was embedded with {self.model_path}, which is no longer there; "
                                   "put the model back or rebuild with `ibert index --force`")
        self.row = {c.id: i for i, c in enumerate(self.chunks)}
        self.is_symbol = np.asarray([c.kind in SYMBOL_KINDS for c in self.chunks])
        self._masks: dict[tuple[str, ...], np.ndarray] = {}
        head_texts = [c.head_text() for c in self.chunks]
        self.head_bm25 = BM25Encoder.fit(head_texts)  # small: fitted at load, not stored
        self.head_sparse = self.head_bm25.matrix(head_texts)
        self.chunk_features = ChunkFeatures.build(self.chunks, self.graph, self.bm25.vocab)
        # multi-vector views (views.py) exist for the base model only; without them, their own weights
        views_file = index_dir / VIEWS_FILE
        self.views = ViewIndex.load(views_file) if views_file.exists() and not finetuned else None
        if self.views is not None and self.views.n_chunks != len(self.chunks):
            self.views = None
        self.weights = {mode: weight_vector(w)
                        for mode, w in (WEIGHTS if self.views is not None else WEIGHTS_NO_VIEWS).items()}
        self._neighbour_rows = self._build_neighbour_rows()
        self.source_root = paths.ibis_source_dir().parent

    def _build_neighbour_rows(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.chunks]
        for i, c in enumerate(self.chunks):
            for relation, other in self.graph.neighbours(c.id):
                if relation in CONTEXT_RELATIONS and other in self.row:
                    out[i].append(self.row[other])
        return out

    # --- retrievers -------------------------------------------------------------------
    def embed(self, query: str) -> np.ndarray:
        from ibert_jupyter.retrieval.encode.dense import encode

        return encode([query], self.model_path)[0]

    def bm25_scores(self, query: str) -> np.ndarray:
        return self.bm25.scores(self.sparse, query)

    def dense_scores(self, query_vector: np.ndarray) -> np.ndarray:
        return self.dense @ query_vector

    @staticmethod
    def _top(scores: np.ndarray, n: int) -> np.ndarray:
        """The ``n`` best rows, best first."""
        idx = top_rows(scores, n)
        return idx[np.argsort(-scores[idx], kind="stable")]

    def head_scores(self, query: str) -> np.ndarray:
        """BM25 over names and summaries only."""
        return self.head_bm25.scores(self.head_sparse, query)

    def view_scores(self, query_vector: np.ndarray, hold_out: tuple[int, str] | None = None) -> np.ndarray | None:
        """Per-kind best view similarity of every chunk (``ViewIndex.kind_scores``); None without views."""
        return None if self.views is None else self.views.kind_scores(query_vector, hold_out)

    def fuse(self, query: str, mode: str, dense: np.ndarray, sparse: np.ndarray,
             head: np.ndarray | None = None, views: np.ndarray | None = None) -> np.ndarray:
        """The fused score of a fused mode, from the retrievers' scores of ``query``."""
        rows, x = self.candidate_features(query, dense, sparse, head, views)
        return fused_scores(len(self.chunks), rows, x, self.weights[mode])

    def candidate_features(self, query: str, dense: np.ndarray, sparse: np.ndarray,
                           head: np.ndarray | None = None, views: np.ndarray | None = None
                           ) -> tuple[np.ndarray, np.ndarray]:
        """(candidate rows, their ranking features) for one query's retriever scores."""
        head = self.head_scores(query) if head is None else head
        rows = candidates(dense, sparse, views=views)
        return rows, features(rows, dense, sparse, head, self.bm25.encode_query(query)[0], self.chunk_features,
                              views)

    def rank(self, query: str, mode: str, dense: np.ndarray | None, sparse: np.ndarray | None, k: int,
             mask: np.ndarray, head: np.ndarray | None = None,
             views: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(top-k rows among ``mask``, their scores) of one mode from precomputed retriever scores."""
        self._check_mode(mode)
        if mode == "bm25":
            scores = np.where(mask & (sparse > 0), sparse, -np.inf)
        elif mode == "dense":
            scores = np.where(mask, dense, -np.inf)
        else:  # plain hybrid is dense + BM25 alone: views neither score nor nominate candidates there
            views = views if mode == "hybrid_graph" else None
            scores = np.where(mask, self.fuse(query, mode, dense, sparse, head, views), -np.inf)
        top = self._top(scores, k)
        top = top[np.isfinite(scores[top])]
        return top, scores[top]

    @staticmethod
    def _check_mode(mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")

    def kind_mask(self, kinds: tuple[str, ...]) -> np.ndarray:
        if kinds == SYMBOL_KINDS:
            return self.is_symbol
        if kinds not in self._masks:
            self._masks[kinds] = np.asarray([c.kind in kinds for c in self.chunks])
        return self._masks[kinds]

    # --- public -----------------------------------------------------------------------
    def search(self, query: str, k: int = 5, *, mode: str = "hybrid_graph", kinds: tuple[str, ...] = SYMBOL_KINDS,
               query_vector: np.ndarray | None = None) -> list[SearchHit]:
        if not isinstance(query, str) or not query.strip():
            raise ValueError("search query must be a non-empty string")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        self._check_mode(mode)
        sparse = None if mode == "dense" else self.bm25_scores(query)
        dense = views = None
        if mode != "bm25":
            vector = self.embed(query) if query_vector is None else query_vector
            dense = self.dense_scores(vector)
            if mode != "dense":
                views = self.view_scores(vector)
        top, scores = self.rank(query, mode, dense, sparse, k, self.kind_mask(kinds), views=views)
        hits = [self._hit(int(i), float(score)) for i, score in zip(top, scores)]
        if views is not None and mode == "hybrid_graph":
            hits = [replace(h, matched=self._outside_match(int(i), vector, dense)) for i, h in zip(top, hits)]
        return hits

    def _outside_match(self, row: int, vector: np.ndarray, dense: np.ndarray) -> str:
        """The SQL-function or peer description that matched ``row`` best, if it beat its own texts."""
        best = self.views.best_of(row, vector)
        if best is None or best[0] not in OUTSIDE_SOURCES or best[2] <= dense[row]:
            return ""
        return f"{OUTSIDE_SOURCES[best[0]]}: {best[1]}"

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
