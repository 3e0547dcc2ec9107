"""Multi-vector dense: several short views per symbol, embedded apart, scored by max-sim.

The ``dense`` retriever embeds one text per chunk (call signature + summary). A question that
matches one clause of a docstring ("stack the rows of two tables") is diluted in that vector.
Views are embedded one by one at index build:

- ``name``: the humanised name (``Table.union`` -> "table union", ``NumericColumn.sum`` ->
  "numeric column sum"),
- ``summary``: the summary line alone,
- ``body``: each of the first few docstring body sentences,
- ``param``: the first sentence of the first few parameter descriptions and of the return
  description,
- ``sql``: DuckDB's description of the SQL function the symbol compiles to
  (``sql_functions.py``): the same operation in another author's words,
- ``peer``: how pandas, DuckDB's relational API and pyarrow.compute describe the method of the same name
  (``peer_docs.py``),
- ``alias``: what users of SQL, pandas, dplyr or Spark call the operation (``aliases.py``).

At query time one matmul over the view matrix gives, per chunk, its best view similarity of
each kind (``ViewIndex.kind_scores``); ``ranking.features`` turns them into ranker features.
The vectors live next to the index (``views.npz``), for the base model only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ibert_jupyter.retrieval.corpus.chunks import SYMBOL_KINDS, Chunk
from ibert_jupyter.retrieval.corpus.docstrings import body, clean, described, flat, sections, sentences

FILE = "views.npz"
KINDS = ("name", "summary", "body", "param", "sql", "peer", "alias")
BODY_SENTENCES = 3
PARAMS = 3
SQL_DESCRIPTIONS = 3
# views not written by Ibis's authors, and how a search hit names them when they matched
OUTSIDE_SOURCES = {"sql": "DuckDB's SQL function", "peer": "pandas/DuckDB/Arrow function of the same name",
                   "alias": "iBERT's glossary"}


def humanise(public_name: str) -> str:
    """``Table.union`` -> "table union"; ``ibis.selectors.across`` -> "selectors across"."""
    parts = [p for p in public_name.split(".") if p not in ("ibis", "expr", "types", "backends")]
    words = []
    for part in parts:
        part = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", part.strip("_"))
        words.append(part.replace("_", " ").lower())
    return flat(" ".join(words))


def symbol_views(chunk: Chunk, sql: list[str] = (), peers: list[str] = (),
                 aliases: list[str] = ()) -> list[tuple[str, str]]:
    """(kind, text) views of a symbol chunk; none for example programs.

    ``sql``: its SQL function's descriptions; ``peers``: its peer methods' descriptions;
    ``aliases``: its glossary phrases.
    """
    if chunk.kind not in SYMBOL_KINDS:
        return []
    views = [("name", humanise(chunk.public_name))]
    if chunk.summary:
        views.append(("summary", clean(chunk.summary)))
        views += [("body", clean(s)) for s in sentences(body(chunk.doc))[:BODY_SENTENCES]]
        parts = sections(chunk.doc)
        params = described(parts.get("Parameters", ""))[:PARAMS] + described(parts.get("Returns", ""))[:1]
        views += [("param", p) for p in params if len(p) >= 12]
    views += [("sql", clean(d)) for d in sql[:SQL_DESCRIPTIONS]]
    views += [("peer", clean(d)) for d in peers]
    views += [("alias", flat(a)) for a in aliases]
    seen, out = set(), []
    for kind, text in views:
        if text and (kind, text) not in seen:
            seen.add((kind, text))
            out.append((kind, text))
    return out


@dataclass
class ViewIndex:
    """View vectors sorted by (kind, owner row), with per-kind segment starts for ``reduceat``."""

    vectors: np.ndarray  # (n_views, dim) float32, unit length
    owner: np.ndarray  # (n_views,) chunk row
    kind: np.ndarray  # (n_views,) index into KINDS
    texts: np.ndarray  # (n_views,) view text (for holding a dev query's own sentence out)
    n_chunks: int

    def __post_init__(self) -> None:
        order = np.lexsort((self.owner, self.kind))
        self.vectors, self.owner, self.kind, self.texts = (a[order] for a in (self.vectors, self.owner, self.kind,
                                                                               self.texts))
        self._segments = []
        for k in range(len(KINDS)):
            idx = np.flatnonzero(self.kind == k)
            if len(idx) == 0:
                self._segments.append((0, 0, np.zeros(0, np.int64), np.zeros(0, np.int64)))
                continue
            owners = self.owner[idx]
            starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
            self._segments.append((int(idx[0]), int(idx[-1]) + 1, starts, owners[starts]))

    @classmethod
    def build(cls, chunks: list[Chunk], model_path: str | None = None, *, progress: bool = False,
              sql: dict[str, tuple[str, list[str]]] | None = None,
              peers: dict[str, list[str]] | None = None,
              aliases: dict[str, list[str]] | None = None) -> "ViewIndex":
        """``sql``: ``sql_functions.symbol_functions`` output; ``peers``: ``peer_docs.peer_descriptions``;
        ``aliases``: ``aliases.symbol_aliases``."""
        from ibert_jupyter.retrieval.encode.dense import encode
        from ibert_jupyter.retrieval.encode.models import load_encoder

        sql, peers, aliases = sql or {}, peers or {}, aliases or {}
        owner, kind, texts = [], [], []
        for row, c in enumerate(chunks):
            for k, text in symbol_views(c, sql.get(c.id, ("", []))[1], peers.get(c.id, []), aliases.get(c.id, [])):
                owner.append(row)
                kind.append(KINDS.index(k))
                texts.append(text)
        vectors = encode(texts, model_path, batch_size=128, progress=progress) if texts \
            else np.zeros((0, load_encoder(model_path).get_embedding_dimension()))
        return cls(np.asarray(vectors, np.float32), np.asarray(owner, np.int32), np.asarray(kind, np.int8),
                   np.asarray(texts, dtype=str), len(chunks))

    def save(self, path: Path) -> None:
        np.savez(path, vectors=self.vectors.astype(np.float16), owner=self.owner, kind=self.kind, texts=self.texts,
                 n_chunks=np.int64(self.n_chunks))

    @classmethod
    def load(cls, path: Path) -> "ViewIndex":
        with np.load(path) as data:
            return cls(data["vectors"].astype(np.float32), data["owner"], data["kind"], data["texts"],
                       int(data["n_chunks"]))

    def kind_scores(self, query_vector: np.ndarray, hold_out: tuple[int, str] | None = None) -> np.ndarray:
        """(len(KINDS), n_chunks): each chunk's best view similarity per kind, -1 where it has none.

        ``hold_out`` = (row, text) leaves that view of that row out (a dev query's own sentence).
        """
        sims = self.vectors @ query_vector
        if hold_out is not None:
            row, text = hold_out
            sims = np.where((self.owner == row) & (self.texts == text), -1.0, sims).astype(np.float32)
        out = np.full((len(KINDS), self.n_chunks), -1.0, dtype=np.float32)
        for k, (lo, hi, starts, owners) in enumerate(self._segments):
            if hi > lo:
                out[k, owners] = np.maximum.reduceat(sims[lo:hi], starts)
        return out

    def best_of(self, row: int, query_vector: np.ndarray) -> tuple[str, str, float] | None:
        """(kind, text, similarity) of ``row``'s view closest to the query; None if it has none."""
        idx = np.flatnonzero(self.owner == row)
        if len(idx) == 0:
            return None
        sims = self.vectors[idx] @ query_vector
        best = int(np.argmax(sims))
        return KINDS[int(self.kind[idx[best]])], str(self.texts[idx[best]]), float(sims[best])
