"""Retrieval over the installed Ibis: symbol chunks, hybrid vectors, Qdrant.

``search(query, k)`` is the one entry point generation, repair and chat use; it raises
``IndexUnavailable`` when no index exists for the installed Ibis (build it with ``ibert index``).
Heavy imports (numpy, qdrant, torch) happen only when a search runs.
"""

from __future__ import annotations

from ibert_jupyter.retrieval.errors import IndexUnavailable

__all__ = ["IndexUnavailable", "search", "search_for_task"]


def search(query: str, k: int = 5) -> list:
    """Top-k Ibis symbols (``SearchHit``) answering ``query``, ranked by hybrid + graph search."""
    from ibert_jupyter.retrieval.rank.retriever import search as _search

    return _search(query, k)


def search_for_task(request: str, k: int = 5) -> list:
    """Top-k symbols for a task-style request (several operations in one sentence); see ``task_query``."""
    from ibert_jupyter.retrieval.rank.task_query import search_for_task as _search_for_task

    return _search_for_task(request, k)
