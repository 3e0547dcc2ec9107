"""Inline completion: fill in the middle of a notebook cell, verified when it completes a statement.

Jupyter-free. The model sees the kernel's tables and the cell with a cursor marker, and
answers with the text to insert (chat messages, so the local model and an endpoint serve it
the same way). ``verified`` is true only when the statement the completion finishes, with
the cell's code before it, passes ``verify()`` against the snapshot's tables.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ibert_jupyter.chat.prompt import describe_tables

CURSOR = "<CURSOR>"
MAX_NEW_TOKENS = 96
MAX_CELL_CHARS = 20_000
SYSTEM_PROMPT = (
    "You complete Python code in a Jupyter notebook cell that uses the Ibis dataframe library. "
    f"The user's cursor is at {CURSOR}. Reply with only the text to insert at the cursor: no "
    "explanation, no code fence, and do not repeat the code before or after the cursor. Use only "
    "the tables and columns listed."
)
_FENCED = re.compile(r"^\s*```[\w+-]*[ \t]*\n?(.*?)(?:\n?```\s*)?$", re.DOTALL)


@dataclass(frozen=True)
class InlineCompletion:
    completion: str
    verified: bool
    verification: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {"completion": self.completion, "verified": self.verified, "verification": self.verification}


def completion_messages(prefix: str, suffix: str, snapshot: Mapping[str, Any] | None) -> list[dict[str, str]]:
    cell = f"{prefix}{CURSOR}{suffix}"
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"{describe_tables(snapshot)}\n\nCell:\n```python\n{cell}\n```"},
    ]


def clean_completion(text: str, prefix: str, suffix: str) -> str:
    """The insertable text: fences, an echoed current line and overlap with the suffix removed."""
    fenced = _FENCED.match(text)
    if fenced and text.lstrip().startswith("```"):
        text = fenced.group(1)
    text = text.replace(CURSOR, "")
    line = prefix.rsplit("\n", 1)[-1]
    if line.strip() and text.startswith(line):
        text = text[len(line):]
    head = suffix.split("\n", 1)[0]
    if head.strip() and text.endswith(head):
        text = text[: -len(head)]
    return text.rstrip() if not suffix.strip() else text


def completed_statement(prefix: str, completion: str, suffix: str) -> str | None:
    """The cell's code up to the end of the statement the completion finishes (None: it does not parse)."""
    end = len(prefix) + len(completion)
    for cell in (prefix + completion + suffix, prefix + completion):
        try:
            tree = ast.parse(cell)
        except SyntaxError:
            continue
        line = cell.count("\n", 0, max(end - 1, 0)) + 1
        lines = cell.splitlines()
        for statement in tree.body:
            if statement.lineno <= line <= (statement.end_lineno or statement.lineno):
                return "\n".join(lines[: statement.end_lineno])
    return None


def complete(
    prefix: str,
    suffix: str,
    snapshot: Mapping[str, Any] | None,
    model: Any,
    *,
    cancel: Any = None,
    verify_fn: Callable[..., Any] | None = None,
) -> InlineCompletion:
    """Ask ``model`` for the middle of the cell and verify what it completes."""
    from ibert_jupyter.model.base import GenerationRequest
    from ibert_jupyter.model.cancel import cancellable, stopping_on_cancel

    request = GenerationRequest(messages=completion_messages(prefix, suffix, snapshot), n=1,
                                max_new_tokens=MAX_NEW_TOKENS, temperature=0.1, stop=("\n\n", "```"))
    with cancellable(cancel):
        text = model.generate(request, stopping_on_cancel(cancel))[0].text
    if cancel is not None:
        cancel.raise_if_cancelled()
    completion = clean_completion(text, prefix, suffix)
    if not completion.strip():
        return InlineCompletion(completion, False, None)
    code = completed_statement(prefix, completion, suffix)
    if code is None or not snapshot or not snapshot.get("tables"):
        return InlineCompletion(completion, False, None)
    from ibert_jupyter.context import tables_from_snapshot

    if verify_fn is None:
        from ibert_jupyter.verify import verify as verify_fn
    try:
        tables = tables_from_snapshot(snapshot)
    except ValueError:
        return InlineCompletion(completion, False, None)
    dialect = next((t.get("dialect") for t in snapshot["tables"] if t.get("dialect")), None)
    report = verify_fn(code, tables, dialect=dialect, preview=False)
    return InlineCompletion(completion, bool(report.ok), report.to_dict())
