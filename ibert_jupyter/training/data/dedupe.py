"""Exact and near-duplicate removal: MinHash signatures over token 3-grams, banded LSH.

Two texts are near-twins when their estimated Jaccard similarity of token 3-grams is at least
``threshold``. The first of a cluster (in input order, which is deterministic) is kept.
"""

from __future__ import annotations

import hashlib
import re
from typing import Sequence

import numpy as np

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|[^\sA-Za-z0-9_]")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _h64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def shingles(text: str, n: int = 3) -> set[int]:
    toks = tokens(text)
    if len(toks) < n:
        return {_h64(" ".join(toks))}
    return {_h64(" ".join(toks[i : i + n])) for i in range(len(toks) - n + 1)}


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit moves every output bit (uint64 arithmetic wraps)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


class MinHasher:
    """``num_perm`` independent hash functions: a seeded 64-bit mask XORed in, then mixed."""

    def __init__(self, num_perm: int = 64, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.masks = rng.integers(0, np.iinfo(np.uint64).max, size=num_perm, dtype=np.uint64, endpoint=True)

    def signature(self, text: str) -> np.ndarray:
        x = np.fromiter(shingles(text), dtype=np.uint64)
        with np.errstate(over="ignore"):
            return _mix(x[:, None] ^ self.masks[None, :]).min(axis=0)


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
