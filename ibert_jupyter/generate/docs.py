"""Hook into the retrieval index (built by another component); optional by design."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def retrieve_docs(query: str, k: int) -> list[str]:
    """Up to ``k`` Ibis API chunks for ``query``; [] when no index is available."""
    if k <= 0:
        return []
    try:
        from ibert_jupyter.retrieval import search
        from ibert_jupyter.retrieval.errors import IndexUnavailable
    except ImportError:
        return []
    if not callable(search):
        return []
    try:
        hits = search(query, k)
    except IndexUnavailable as exc:
        log.info("retrieval index unavailable: %s", exc)
        return []
    return [_hit_text(hit) for hit in hits][:k]


def _hit_text(hit) -> str:
    if isinstance(hit, str):
        return hit
    for attr in ("text", "content", "chunk"):
        value = getattr(hit, attr, None) if not isinstance(hit, dict) else hit.get(attr)
        if value:
            return str(value)
    return str(hit)
