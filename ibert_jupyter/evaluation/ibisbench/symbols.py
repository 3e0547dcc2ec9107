"""Gold API symbols of a task and whether retrieved docs cover them (by name: ``Table.filter``
and ``Column.filter`` answer "filter" alike for a model that reads the docs)."""

from __future__ import annotations

from ibert_jupyter.retrieval.corpus.api_names import api_symbols, bare

__all__ = ["api_symbols", "bare", "covered"]


def covered(gold: tuple[str, ...], retrieved_names) -> tuple[str, ...]:
    """The gold symbols a retrieved symbol answers (same bare name)."""
    names = {bare(n) for n in retrieved_names}
    return tuple(s for s in gold if bare(s) in names)
