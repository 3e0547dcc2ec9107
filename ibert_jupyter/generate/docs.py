"""API docs for prompts: retrieved Ibis symbols rendered as their documentation's text.

A model reads the symbol's call signature, its docstring summary and a short usage line from
its own doctest examples — never an object's repr (``SearchHit(id=..., score=...)`` tells a
model nothing and costs tokens). Retrieval is optional: without an index, no docs.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)

MAX_EXAMPLE_LINES = 2
# doctest lines that set up the example rather than show the symbol in use
_SETUP = re.compile(r"^(import |from |ibis\.options|t = ibis\.(examples|memtable)|con = |ibis\.set_backend)")


@dataclass(frozen=True)
class ApiDoc:
    """Documentation as a prompt shows it: one retrieved symbol, or the core sheet of several."""

    name: str  # how users spell it: Table.group_by, ibis.desc ("core operations" for the sheet)
    text: str
    symbols: tuple[str, ...] = ()  # the symbols it documents (default: just ``name``)

    @property
    def documents(self) -> tuple[str, ...]:
        return self.symbols or (self.name,)


def usage_lines(examples: str, limit: int = MAX_EXAMPLE_LINES) -> list[str]:
    """The first doctest statements of a docstring that use the API (setup and output dropped)."""
    raw_lines = examples.splitlines()
    prompted = any(line.strip().startswith(">>> ") for line in raw_lines)  # doctest form, else bare code
    lines = []
    for raw in raw_lines:
        line = raw.strip()
        if prompted and not line.startswith(">>> "):
            continue
        statement = line[4:].strip() if prompted else line
        if not statement or _SETUP.match(statement) or statement in ("t", "expr"):
            continue
        lines.append(statement)
        if len(lines) >= limit:
            break
    return lines


def doc_text(name: str, signature: str, summary: str, examples: str = "") -> str:
    """``name(signature)``, the summary, and a usage line or two: what a prompt needs of a symbol."""
    parts = [f"{name}{signature}".strip()]
    if summary:
        parts.append(f"    {summary.strip()}")
    usage = usage_lines(examples)
    if usage:
        parts.append("    e.g. " + "\n         ".join(usage))
    return "\n".join(parts)


def _chunk_of(hit, retriever=None):
    """The corpus chunk behind a search hit (for its doctest examples), if the index is open."""
    try:
        retriever = retriever or _open_retriever()
        return retriever.chunks[retriever.row[hit.id]]
    except Exception:  # noqa: BLE001 - examples are a nicety; the summary alone still helps
        return None


def hit_doc(hit, retriever=None) -> ApiDoc:
    """A search hit (``SearchHit`` or a dict of its fields) as prompt documentation."""
    if isinstance(hit, str):
        return ApiDoc(hit.split("(", 1)[0].strip(), hit)
    get = hit.get if isinstance(hit, dict) else (lambda key, default="": getattr(hit, key, default))
    name = get("public_name", "") or get("name", "")
    if not name:
        raise TypeError(f"cannot render {type(hit).__name__} as API docs: it has no public_name")
    chunk = None if isinstance(hit, dict) else _chunk_of(hit, retriever)
    examples = getattr(chunk, "examples", "") or getattr(chunk, "doc", "") if chunk is not None else ""
    return ApiDoc(name, doc_text(name, get("signature", "") or "", get("summary", "") or "", examples))


def core_sheet(retriever=None) -> ApiDoc | None:
    """The everyday operations, one line each (``retrieval.task_query``); None without an index."""
    from ibert_jupyter.retrieval.rank.task_query import core_chunks

    retriever = retriever or _open_retriever()
    chunks = core_chunks(retriever) if retriever is not None else []
    if not chunks:
        return None
    from ibert_jupyter.retrieval.rank.task_query import ALIASES

    lines, names = [], []
    for c in chunks:
        also = [a for a, target in ALIASES.items() if target == c.name]
        alias = f" (also spelled .{', .'.join(also)})" if also else ""
        lines.append(f"{c.public_name}{c.signature}{alias}: {c.summary}".rstrip(": "))
        names += [c.public_name, *(c.public_name.rsplit(".", 1)[0] + "." + a for a in also)]
    return ApiDoc("core operations", "Everyday operations:\n" + "\n".join(lines), tuple(names))


def retrieve_api_docs(query: str, k: int) -> list[ApiDoc]:
    """The core sheet and up to ``k`` more Ibis API docs for ``query``; [] when no index is available."""
    if k <= 0:
        return []
    try:
        from ibert_jupyter.retrieval import search_for_task
        from ibert_jupyter.retrieval.errors import IndexUnavailable
    except ImportError:
        return []
    try:
        hits = search_for_task(query, k)
    except IndexUnavailable as exc:
        log.info("retrieval index unavailable: %s", exc)
        return []
    retriever = _open_retriever()
    sheet = core_sheet(retriever)
    return ([sheet] if sheet else []) + [hit_doc(hit, retriever) for hit in hits][:k]


def _open_retriever():
    """The open index (for chunks behind hits), or None."""
    from ibert_jupyter.retrieval.errors import IndexUnavailable
    from ibert_jupyter.retrieval.rank.retriever import get_retriever

    try:
        return get_retriever()
    except IndexUnavailable:
        return None


def retrieve_docs(query: str, k: int) -> list[str]:
    """The core sheet and up to ``k`` Ibis API docs for ``query`` as prompt text; [] without an index."""
    return [doc.text for doc in retrieve_api_docs(query, k)]
