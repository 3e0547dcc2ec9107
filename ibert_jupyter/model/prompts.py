"""Prompts shared by every backend: task rules + schema snapshot + API docs + request.

The model must answer with one Python block that builds an Ibis expression from the
user's table variables; the verifier decides whether it works.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from ibert_jupyter.model.base import Message

SYSTEM_PROMPT = """You are iBERT, an assistant that writes Ibis (Python dataframe API) code.
Rules:
- Answer with exactly one ```python code block and nothing else.
- Use only the table variables listed below and `ibis` (already imported); `_` is ibis._.
- Build an Ibis expression; do not execute it (no .execute(), .to_pandas(), no I/O).
- The last line of the block must be the resulting expression (or an assignment to it).
- Use only columns that exist in the schemas below."""


def describe_tables(snapshot: Mapping[str, Any], max_columns: int = 60) -> str:
    lines = []
    for table in snapshot.get("tables", []):
        columns = table.get("columns", [])
        shown = ", ".join(f"{c['name']}: {c['type']}" for c in columns[:max_columns])
        more = f", ... (+{len(columns) - max_columns} more)" if len(columns) > max_columns else ""
        where = f" [{table['backend']}]" if table.get("backend") else ""
        lines.append(f"- {table['variable']}{where}: {shown}{more}")
    return "\n".join(lines) or "(no Ibis tables found in the notebook)"


def generation_messages(
    request: str,
    snapshot: Mapping[str, Any],
    *,
    docs: Sequence[str] = (),
    dialect: str | None = None,
) -> list[Message]:
    parts = [f"Tables in the notebook:\n{describe_tables(snapshot)}"]
    if dialect:
        parts.append(f"Target SQL dialect: {dialect}")
    if docs:
        parts.append("Relevant Ibis API documentation:\n" + "\n---\n".join(docs))
    parts.append(f"Request: {request}")
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n\n".join(parts)}]


def refinement_messages(messages: Sequence[Message], failures: Sequence[tuple[str, str]]) -> list[Message]:
    """Ask again, showing the previous candidates and the compiler's errors."""
    shown = "\n\n".join(f"```python\n{code}\n```\nfailed: {error}" for code, error in failures)
    return [
        *messages,
        {"role": "assistant", "content": f"```python\n{failures[0][0]}\n```"},
        {
            "role": "user",
            "content": "These candidates did not pass Ibis's compiler:\n\n"
            f"{shown}\n\nFix the errors and answer with one corrected ```python block.",
        },
    ]


_BLOCK = re.compile(r"```(?:python|py)?\s*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_code(text: str) -> str:
    """The first fenced code block, or the whole text when the model used no fence."""
    match = _BLOCK.search(text)
    return (match.group(1) if match else text).strip()
