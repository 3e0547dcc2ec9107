"""Retrieval over the installed Ibis: symbol chunks, hybrid vectors, Qdrant.

``search(query, k)`` is the one entry point generation, repair and chat use; it raises
``IndexUnavailable`` when no index exists for the installed Ibis (build it with ``ibert index``).
Heavy imports (numpy, qdrant, torch) happen only when a search runs.
"""

from __future__ import annotations

from ibert_jupyter.retrieval.errors import IndexUnavailable

__all__ = ["IndexUnavailable", "search"]


def search(query: str, k: int = 5) -> list:
    """Top-k Ibis symbols (``SearchHit``) answering ``query``, ranked by hybrid + graph search."""
    from ibert_jupyter.retrieval.retriever import search as _search

    return _search(query, k)
