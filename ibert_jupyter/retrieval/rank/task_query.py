"""API docs for a task-style request: the everyday operations always, plus what the task needs.

An analyst's request ("total revenue per nation, top 5") needs several operations at once,
most of them everyday ones (filter, group_by, agg, order_by, limit) that no wording of the
request singles out: a single search spends its five slots on near-synonyms of one phrase
(`cumsum`, `cumall` for "total"). So the prompt carries a fixed **core sheet** — the
operations used by at least ``CORE_SHARE`` of the Ibis reference programs shipped in the ibis
wheel (TPC-H/TPC-DS, read from the installed version; the share was chosen on IbisBench's dev
split) — and search fills its ``k`` slots with other operations, one per name.
"""

from __future__ import annotations

import functools
from collections import Counter

from ibert_jupyter.retrieval.corpus.api_names import api_symbols, bare

CORE_SHARE = 0.08
SEARCH_DEPTH = 20
# which class's spelling documents a core name best (first that exists wins)
_PREFERRED_OWNERS = ("Table", "ibis", "Value", "Column", "NumericColumn", "NumericValue", "GroupedTable",
                     "StringValue", "TemporalValue", "TimestampValue", "DateValue", "Scalar")
# names ibis defines as plain aliases (``agg = aggregate``): the corpus holds only the target
ALIASES = {"agg": "aggregate"}


@functools.cache
def core_names() -> tuple[str, ...]:
    """Bare names of the operations the installed ibis's reference programs use most."""
    from ibert_jupyter.data import tpc

    programs = [q.code for suite in ("h", "ds") for q in tpc.reference_queries(suite)]
    counts: Counter[str] = Counter()
    for code in programs:
        counts.update({bare(s) for s in api_symbols(code)})
    return tuple(sorted(n for n, c in counts.items() if c >= CORE_SHARE * len(programs)))


def core_chunks(retriever) -> list:
    """One corpus chunk per core name, in the spelling users meet first (``Table.filter``)."""
    from ibert_jupyter.retrieval.corpus.chunks import SYMBOL_KINDS

    by_name: dict[str, list] = {}
    for chunk in retriever.chunks:
        if chunk.kind in SYMBOL_KINDS:
            by_name.setdefault(bare(chunk.public_name), []).append(chunk)

    def rank(chunk) -> int:
        owner = chunk.public_name.rsplit(".", 1)[0] if "." in chunk.public_name else ""
        return _PREFERRED_OWNERS.index(owner) if owner in _PREFERRED_OWNERS else len(_PREFERRED_OWNERS)

    names = dict.fromkeys(ALIASES.get(n, n) for n in core_names())
    return [min(by_name[n], key=rank) for n in names if n in by_name]


def search_for_task(request: str, k: int = 5) -> list:
    """The ``k`` best hits for ``request`` that are not core operations, one per bare name."""
    from ibert_jupyter.retrieval.rank.retriever import get_retriever

    core = set(core_names()) | {ALIASES.get(n, n) for n in core_names()}
    out, seen = [], set()
    for hit in get_retriever().search(request, SEARCH_DEPTH):
        name = bare(hit.public_name)
        if name in core or name in seen:
            continue
        seen.add(name)
        out.append(hit)
        if len(out) == k:
            break
    return out
