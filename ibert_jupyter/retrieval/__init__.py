"""Retrieval over the installed Ibis: symbol chunks, hybrid vectors, Qdrant.

``search(query, k)`` is the one entry point generation, repair and chat use; it raises
``IndexUnavailable`` when no index exists for the installed Ibis (build it with ``ibert index``).
Heavy imports (numpy, qdrant, torch) happen only when a search runs.

The stages, each a sub-package importing only the ones before it: ``corpus`` (symbols, docs,
graph) -> ``encode`` (dense and sparse vectors) -> ``index`` (build, store, status) -> ``rank``
(score and rank a query) -> ``tuning`` (fit the ranking weights offline). ``paths`` and ``errors``
serve them all.
"""

from __future__ import annotations

from ibert_jupyter.retrieval.errors import IndexUnavailable
from ibert_jupyter.retrieval.rank.hits_text import hits_text

__all__ = ["IndexUnavailable", "hits_text", "search", "search_for_task"]


def search(query: str, k: int = 5) -> list:
    """Top-k Ibis symbols (``SearchHit``) answering ``query``, ranked by hybrid + graph search."""
    from ibert_jupyter.retrieval.rank.retriever import search as _search

    return _search(query, k)


def search_for_task(request: str, k: int = 5) -> list:
    """Top-k symbols for a task-style request (several operations in one sentence); see ``task_query``."""
    from ibert_jupyter.retrieval.rank.task_query import search_for_task as _search_for_task

    return _search_for_task(request, k)
