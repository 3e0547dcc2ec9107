"""Decontamination against every evaluation set in the repository, by token 3-gram overlap.

Benchmark items: each string field (request, question, gold code, SQL, ...) of every
``*.jsonl`` and each ``*.sql`` file under ``ibert_jupyter/evaluation/data/`` (IbisBench,
retrieval question sets, repair corpora, whatever exists when the build runs), plus the
TPC-H/TPC-DS SQL and Ibis reference implementations shipped in the ibis wheel.

Rule: text is lowercased and cut into word tokens (punctuation, quoting and layout dropped),
then 3-grams. An example is contaminated when, for some benchmark item with at least
``MIN_NGRAMS`` 3-grams, at least ``THRESHOLD`` of that item's 3-grams (and no fewer than
``MIN_SHARED``) occur in the example.
Light rewording (a changed word every few words, reformatted SQL, renamed aliases) leaves
well over half of an item's 3-grams in place; unrelated text sharing a stock phrase does not
reach half of any item.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

N = 3
THRESHOLD = 0.5
MIN_NGRAMS = 4
MIN_SHARED = 3
_WORD = re.compile(r"[a-z0-9_]+")
_DOTTED = re.compile(r"^[\w.]+$")  # symbol ids such as ibis.expr.types.Table.filter: answer keys, not text


def ngrams(text: str, n: int = N) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


@dataclass(frozen=True)
class Item:
    source: str
    text: str


def _strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def evaluation_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "evaluation" / "data"


def repository_benchmark_dir() -> Path:
    """Third-party suites kept in the checkout only (e.g. ClickBench, whose licence is not ours)."""
    return Path(__file__).resolve().parents[3] / "benchmarks" / "data"


def benchmark_items(root: Path | None = None, include_tpc: bool = True) -> list[Item]:
    roots = [evaluation_dir(), repository_benchmark_dir()] if root is None else [Path(root)]
    items: list[Item] = []
    for root in roots:
        items += _items_under(root)
    if include_tpc:
        from ibert_jupyter.data import tpc

        for suite in ("h", "ds"):
            try:
                items += [Item(f"tpc{suite}-q{n:02d}.sql", sql) for n, sql in tpc.sql_queries(suite).items()]
                items += [Item(f"{q.name}.py", q.code) for q in tpc.reference_queries(suite)]
            except tpc.TpcUnavailable:
                continue
    return items


def _items_under(root: Path) -> list[Item]:
    """Every string of every ``*.jsonl`` row and every ``*.sql`` file under ``root``."""
    items: list[Item] = []
    if root.is_dir():
        for path in sorted(root.rglob("*.jsonl")):
            for lineno, line in enumerate(path.read_text().splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                items += [Item(f"{path.name}:{lineno}", s) for s in _strings(row) if len(s) >= 12 and not _DOTTED.match(s)]
        for path in sorted(root.rglob("*.sql")):
            items.append(Item(path.name, path.read_text()))
    return items


class Decontaminator:
    def __init__(self, items: Iterable[Item], threshold: float = THRESHOLD, min_ngrams: int = MIN_NGRAMS):
        self.items = [i for i in items if len(ngrams(i.text)) >= min_ngrams]
        self.threshold = threshold
        self.sizes = [len(ngrams(i.text)) for i in self.items]
        self.index: dict[tuple[str, ...], list[int]] = {}
        for k, item in enumerate(self.items):
            for g in ngrams(item.text):
                self.index.setdefault(g, []).append(k)
        self.sources = sorted({i.source.split(":")[0] for i in self.items})

    def match(self, text: str) -> Item | None:
        """The benchmark item ``text`` contains (≥ threshold of its 3-grams), if any."""
        hits: dict[int, int] = {}
        for g in ngrams(text):
            for k in self.index.get(g, ()):
                hits[k] = hits.get(k, 0) + 1
        for k, h in hits.items():
            if h >= max(MIN_SHARED, self.threshold * self.sizes[k]):
                return self.items[k]
        return None
