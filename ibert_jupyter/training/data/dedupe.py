"""Exact and near-duplicate removal: MinHash signatures over token 3-grams, banded LSH.

Two texts are near-twins when their estimated Jaccard similarity of token 3-grams is at least
``threshold``. The first of a cluster (in input order, which is deterministic) is kept.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from typing import Sequence

import numpy as np

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|[^\sA-Za-z0-9_]")
PRIME = np.uint64((1 << 61) - 1)


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def shingles(text: str, n: int = 3) -> set[int]:
    toks = tokens(text)
    if len(toks) < n:
        return {zlib.crc32(" ".join(toks).encode())}
    return {zlib.crc32(" ".join(toks[i : i + n]).encode()) for i in range(len(toks) - n + 1)}


class MinHasher:
    def __init__(self, num_perm: int = 64, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.a = rng.integers(1, (1 << 31) - 1, size=num_perm, dtype=np.uint64)
        self.b = rng.integers(0, (1 << 31) - 1, size=num_perm, dtype=np.uint64)

    def signature(self, text: str) -> np.ndarray:
        x = np.fromiter(shingles(text), dtype=np.uint64)
        return ((np.outer(x, self.a) + self.b) % PRIME).min(axis=0)


def exact_key(text: str) -> str:
    return hashlib.sha1(" ".join(text.split()).encode()).hexdigest()


def near_duplicates(texts: Sequence[str], threshold: float = 0.8, bands: int = 16, seed: int = 0) -> dict[int, int]:
    """index -> index of the earlier text it near-duplicates (only for dropped texts)."""
    hasher = MinHasher(64, seed)
    rows = 64 // bands
    sigs = np.stack([hasher.signature(t) for t in texts]) if texts else np.zeros((0, 64), dtype=np.uint64)
    buckets: dict[tuple[int, bytes], list[int]] = {}
    twin_of: dict[int, int] = {}
    for i in range(len(texts)):
        candidates: set[int] = set()
        for band in range(bands):
            key = (band, sigs[i, band * rows : (band + 1) * rows].tobytes())
            candidates.update(buckets.get(key, ()))
        best = next((j for j in sorted(candidates) if (sigs[i] == sigs[j]).mean() >= threshold), None)
        if best is not None:
            twin_of[i] = best
            continue  # dropped texts do not seed buckets: a chain of small edits stays anchored
        for band in range(bands):
            buckets.setdefault((band, sigs[i, band * rows : (band + 1) * rows].tobytes()), []).append(i)
    return twin_of


def jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / max(1, len(sa | sb))
