"""BM25 as sparse vectors: document side carries the BM25 term weights, query side is 0/1.

With that split, a sparse dot product in Qdrant *is* the BM25 score (k1, b applied at index
time), so the store needs no custom scoring. Identifiers are split the way people type them:
``group_by`` and ``GroupBy`` both give ``group``, ``by``.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
STOPWORDS = frozenset(
    "a an and are as at be by can do does for from how i if in into is it its me my of on or so that the "
    "then this to was what when where which with without you your self none true false return returns "
    "str int bool optional default parameters".split()
)


def _stem(token: str) -> str:
    """A deliberately light stemmer: plurals and -ing/-ed forms meet their base (values -> value)."""
    if token.endswith("ies") and len(token) > 4:
        return token[:-3] + "y"
    if token.endswith(("sses", "shes", "ches", "xes", "zes")):
        return token[:-2]
    if token.endswith("s") and not token.endswith(("ss", "us", "is")) and len(token) > 3:
        return token[:-1]
    for suffix in ("ing", "ed"):
        if token.endswith(suffix) and len(token) - len(suffix) >= 4:
            return token[: -len(suffix)]
    return token


def tokenize(text: str) -> list[str]:
    tokens = []
    for raw in re.split(r"[^A-Za-z0-9]+", text):
        for part in _WORD.findall(raw):
            tok = part.lower()
            if len(tok) > 1 and tok not in STOPWORDS:
                tokens.append(_stem(tok))
    return tokens


def similar(a: str, b: str, threshold: float = 0.6) -> bool:
    """Token Jaccard >= ``threshold``: how a near-copy of a labelled benchmark question is recognised,
    so dev queries (``tuning``) and fine-tuning pairs (``training/embedder.py``) can leave it out."""
    ta, tb = set(tokenize(a)), set(tokenize(b))
    if not ta or not tb:
        return False
    return len(ta & tb) / len(ta | tb) >= threshold


class BM25Encoder:
    """Vocabulary + IDF fitted on the corpus; encodes documents and queries as sparse vectors."""

    def __init__(self, vocab: dict[str, int], idf: list[float], avgdl: float, k1: float = 1.2, b: float = 0.75):
        self.vocab, self.idf, self.avgdl, self.k1, self.b = vocab, idf, avgdl, k1, b

    @classmethod
    def fit(cls, texts: list[str], k1: float = 1.2, b: float = 0.75) -> "BM25Encoder":
        if not texts:
            raise ValueError("cannot fit BM25 on an empty corpus")
        docs = [tokenize(t) for t in texts]
        df: Counter[str] = Counter()
        for doc in docs:
            df.update(set(doc))
        vocab = {term: i for i, term in enumerate(sorted(df))}
        n = len(docs)
        idf = [math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in sorted(df)]
        avgdl = sum(len(d) for d in docs) / n
        return cls(vocab, idf, max(avgdl, 1.0), k1, b)

    def encode_document(self, text: str) -> tuple[list[int], list[float]]:
        tf = Counter(t for t in tokenize(text) if t in self.vocab)
        dl = sum(tf.values()) or 1
        norm = self.k1 * (1 - self.b + self.b * dl / self.avgdl)
        items = sorted((self.vocab[t], self.idf[self.vocab[t]] * c * (self.k1 + 1) / (c + norm)) for t, c in tf.items())
        return [i for i, _ in items], [w for _, w in items]

    def matrix(self, texts: list[str]):
        """Documents as a CSC matrix (rows: texts), so a query's score is a column-slice sum."""
        import numpy as np
        from scipy.sparse import csc_matrix

        rows, cols, vals = [], [], []
        for r, text in enumerate(texts):
            ids, weights = self.encode_document(text)
            rows += [r] * len(ids)
            cols += ids
            vals += weights
        return csc_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)), shape=(len(texts), len(self.vocab)))

    def scores(self, matrix, query: str):
        """BM25 score of ``query`` against every row of ``matrix`` (built by ``matrix``)."""
        import numpy as np

        ids, _ = self.encode_query(query)
        if not ids:
            return np.zeros(matrix.shape[0], dtype=np.float32)
        return np.asarray(matrix[:, ids].sum(axis=1)).ravel()

    def encode_query(self, text: str) -> tuple[list[int], list[float]]:
        ids = sorted({self.vocab[t] for t in tokenize(text) if t in self.vocab})
        return ids, [1.0] * len(ids)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"vocab": self.vocab, "idf": self.idf, "avgdl": self.avgdl, "k1": self.k1,
                                    "b": self.b}), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "BM25Encoder":
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["vocab"], data["idf"], data["avgdl"], data["k1"], data["b"])
