"""answer(): one chat turn, Jupyter-free.

Retrieval and the model are imported lazily and either may be missing: the answer then says
so plainly and still carries whatever the other half produced (usually the API symbols).
Code blocks are verified against unbound tables rebuilt from the kernel's schema snapshot.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Callable, Mapping, Sequence

from ibert_jupyter.chat.prompt import build_messages
from ibert_jupyter.chat.segments import Segment, split_segments

SearchFn = Callable[[str, int], Sequence[Any]]
ModelProvider = Callable[[], Any]

DEFAULT_K = 6
MAX_NEW_TOKENS = 768
SYMBOL_FIELDS = ("public_name", "kind", "signature", "summary", "score", "url")


class AnswerStatus(StrEnum):
    ANSWERED = "answered"
    MODEL_UNAVAILABLE = "model_unavailable"  # the text says why and what to do


@dataclass(frozen=True)
class ChatAnswer:
    """What the sidebar renders."""

    question: str
    status: AnswerStatus
    text: str
    segments: list[dict[str, Any]]
    symbols: list[dict[str, Any]]
    tables: list[str]
    notices: list[str] = field(default_factory=list)
    model: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": str(self.status)}


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
                "stage": str(report.stage),
                "message": report.message,
                "sql": report.sql,
                "verified_against": list(report.verified_against),
            })
        checked.append(segment)
    return checked


@dataclass(frozen=True)
class ChatContext:
    """Everything a chat turn knows before the model runs (built off the model's queue)."""

    question: str
    snapshot: Mapping[str, Any] | None
    symbols: tuple[dict[str, Any], ...]
    tables: tuple[str, ...]
    notices: tuple[str, ...]
    messages: tuple[dict[str, str], ...]


def prepare(question: str, snapshot: Mapping[str, Any] | None = None, search: SearchFn | None = None,
            *, k: int = DEFAULT_K, notices: Sequence[str] = ()) -> ChatContext:
    """Retrieve API symbols and build the prompt; never touches the model."""
    if not isinstance(question, str) or not question.strip():
        raise ValueError("question must be a non-empty string")
    found = list(notices)
    tables = tuple(t["variable"] for t in (snapshot or {}).get("tables", []))
    symbols = _retrieve(question, search or _default_search, k, found)
    messages = build_messages(question, snapshot, symbols, _ibis_version())
    return ChatContext(question, snapshot, tuple(symbols), tables, tuple(found), tuple(messages))


def reply(context: ChatContext, model_provider: ModelProvider | None = None,
          on_token: Callable[[str], None] | None = None, cancel: Any = None) -> tuple[str, str | None]:
    """(model text, model name). Raises ModelUnavailable, or Cancelled once ``cancel`` is set.

    Tokens reach ``on_token`` as they are decoded; cancelling stops the decoding itself.
    """
    from ibert_jupyter.model.base import GenerationRequest
    from ibert_jupyter.model.cancel import cancellable, stopping_on_cancel
    from ibert_jupyter.model.errors import ModelUnavailable

    try:
        model = (model_provider or _default_model_provider)()
    except ImportError as exc:
        raise ModelUnavailable(f"the model runtime is not installed ({exc})") from exc
    if cancel is not None:
        cancel.raise_if_cancelled()
    request = GenerationRequest(messages=list(context.messages), n=1, max_new_tokens=MAX_NEW_TOKENS, temperature=0.2)
    relay = stopping_on_cancel(cancel, (lambda index, text: on_token(text)) if on_token else None)
    with cancellable(cancel):
        completion = model.generate(request, relay)[0]
    if cancel is not None:
        cancel.raise_if_cancelled()
    return completion.text, getattr(model, "name", None)


def unavailable(context: ChatContext, reason: str) -> ChatAnswer:
    """The answer without a model: the retrieved symbols, and the reason said once."""
    notices = list(context.notices)
    text = f"The model is unavailable: {reason}"
    if context.symbols:
        notices.append("No generated answer; the retrieved Ibis API symbols may still help.")
    return ChatAnswer(context.question, AnswerStatus.MODEL_UNAVAILABLE, text, [Segment("text", text).to_dict()],
                      list(context.symbols), list(context.tables), notices)


def finish(context: ChatContext, text: str, model_name: str | None = None) -> ChatAnswer:
    """Split the model's text into prose and code, verifying each Python block."""
    notices = list(context.notices)
    segments = _verify_code(split_segments(text), context.snapshot, notices)
    return ChatAnswer(context.question, AnswerStatus.ANSWERED, text, [s.to_dict() for s in segments],
                      list(context.symbols), list(context.tables), notices, model_name)


def answer(
    question: str,
    snapshot: Mapping[str, Any] | None = None,
    model_provider: ModelProvider | None = None,
    search: SearchFn | None = None,
    *,
    k: int = DEFAULT_K,
    on_token: Callable[[str], None] | None = None,
    cancel: Any = None,
) -> ChatAnswer:
    """Answer an Ibis question using the kernel's tables and retrieved API symbols."""
    from ibert_jupyter.model.errors import ModelUnavailable

    context = prepare(question, snapshot, search, k=k)
    try:
        text, name = reply(context, model_provider, on_token, cancel)
    except ModelUnavailable as exc:
        return unavailable(context, str(exc))
    return finish(context, text, name)
