"""Task-style requests: one sentence, several operations.

Placeholder: plain ``search`` until the task-aware version lands.
"""

from __future__ import annotations


def search_for_task(request: str, k: int = 5) -> list:
    from ibert_jupyter.retrieval.retriever import search

    return search(request, k)
