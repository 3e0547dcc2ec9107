"""answer(): one chat turn, Jupyter-free.

Retrieval and the model are imported lazily and either may be missing: the answer then says
so plainly and still carries whatever the other half produced (usually the API symbols).
Code blocks are verified against unbound tables rebuilt from the kernel's schema snapshot.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping, Sequence

from ibert_jupyter.chat.prompt import build_messages
from ibert_jupyter.chat.segments import Segment, split_segments

SearchFn = Callable[[str, int], Sequence[Any]]
ModelProvider = Callable[[], Any]

DEFAULT_K = 6
MAX_NEW_TOKENS = 768
SYMBOL_FIELDS = ("public_name", "kind", "signature", "summary", "score", "url")


@dataclass(frozen=True)
class ChatAnswer:
    """What the sidebar renders; ``status`` is "answered" or "model_unavailable"."""

    question: str
    status: str
    text: str
    segments: list[dict[str, Any]]
    symbols: list[dict[str, Any]]
    tables: list[str]
    notices: list[str] = field(default_factory=list)
    model: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _default_search(query: str, k: int) -> Sequence[Any]:
    from ibert_jupyter.retrieval import search

    return search(query, k)


def _default_model_provider() -> Any:
    from ibert_jupyter.model.runtime import get_default_model

    return get_default_model()


def _symbol_dict(hit: Any) -> dict[str, Any]:
    raw = hit.to_dict() if hasattr(hit, "to_dict") else dict(hit)
    symbol = {key: raw.get(key) for key in SYMBOL_FIELDS}
    if not symbol["public_name"]:
        symbol["public_name"] = raw.get("id") or raw.get("name") or "?"
    return symbol


def _retrieve(question: str, search: SearchFn, k: int, notices: list[str]) -> list[dict[str, Any]]:
    from ibert_jupyter.retrieval.errors import IndexUnavailable

    try:
        return [_symbol_dict(hit) for hit in search(question, k)]
    except IndexUnavailable as exc:
        notices.append(f"API index unavailable: {exc}")
    except ImportError as exc:
        notices.append(f"API retrieval is not installed: {exc}")
    return []


def _ibis_version() -> str:
    try:
        return importlib.metadata.version("ibis-framework")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _verify_code(segments: list[Segment], snapshot: Mapping[str, Any] | None, notices: list[str]) -> list[Segment]:
    """Attach a verification report to every Python block (needs the snapshot's tables)."""
    code_blocks = [s for s in segments if s.kind == "code" and s.language in ("python", "py", "")]
    if not code_blocks:
        return segments
    if not snapshot or not snapshot.get("tables"):
        notices.append("Code was not verified: no Ibis tables in the active kernel.")
        return segments
    from ibert_jupyter.context import tables_from_snapshot
    from ibert_jupyter.verify import verify

    try:
        tables = tables_from_snapshot(snapshot)
    except ValueError as exc:
        notices.append(f"Code was not verified: {exc}")
        return segments
    dialect = next((t.get("dialect") for t in snapshot["tables"] if t.get("dialect")), None)
    checked = []
    for segment in segments:
        if segment in code_blocks:
            report = verify(segment.text, tables, dialect=dialect, preview=False)
            segment = Segment(segment.kind, segment.text, segment.language, {
                "ok": report.ok,
                "stage": report.stage,
                "message": report.message,
                "sql": report.sql,
                "verified_against": list(report.verified_against),
            })
        checked.append(segment)
    return checked


def answer(
    question: str,
    snapshot: Mapping[str, Any] | None = None,
    model_provider: ModelProvider | None = None,
    search: SearchFn | None = None,
    *,
    k: int = DEFAULT_K,
) -> ChatAnswer:
    """Answer an Ibis question using the kernel's tables and retrieved API symbols."""
    from ibert_jupyter.model.base import GenerationRequest
    from ibert_jupyter.model.errors import ModelUnavailable

    if not isinstance(question, str) or not question.strip():
        raise ValueError("question must be a non-empty string")
    notices: list[str] = []
    tables = [t["variable"] for t in (snapshot or {}).get("tables", [])]
    symbols = _retrieve(question, search or _default_search, k, notices)
    messages = build_messages(question, snapshot, symbols, _ibis_version())

    try:
        model = (model_provider or _default_model_provider)()
        completion = model.generate(
            GenerationRequest(messages=messages, n=1, max_new_tokens=MAX_NEW_TOKENS, temperature=0.2)
        )[0]
    except (ModelUnavailable, ImportError) as exc:
        reason = str(exc) if isinstance(exc, ModelUnavailable) else f"the model runtime is not installed ({exc})"
        text = f"The model is unavailable: {reason}"
        if symbols:
            notices.append("No generated answer; the retrieved Ibis API symbols may still help.")
        return ChatAnswer(question, "model_unavailable", text, [Segment("text", text).to_dict()],
                          symbols, tables, notices)

    segments = _verify_code(split_segments(completion.text), snapshot, notices)
    return ChatAnswer(question, "answered", completion.text, [s.to_dict() for s in segments],
                      symbols, tables, notices, getattr(model, "name", None))
