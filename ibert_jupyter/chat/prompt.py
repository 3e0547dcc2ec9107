"""Chat prompt: the question, the kernel's tables and the retrieved, version-exact API symbols."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

SYSTEM_PROMPT = (
    "You are iBERT, an assistant for users of the Ibis dataframe library (ibis {ibis_version}). "
    "Answer briefly. Put code in ```python fenced blocks. Use only the Ibis API listed below "
    "and only the tables and columns listed below; the code's last expression should be the "
    "Ibis expression that answers the question. If the API list does not cover the question, say so."
)

MAX_COLUMNS_PER_TABLE = 60


def describe_tables(snapshot: Mapping[str, Any] | None) -> str:
    """One line per table: variable, backend and typed columns (long schemas are cut)."""
    if not snapshot or not snapshot.get("tables"):
        return "No Ibis tables are defined in the active kernel."
    lines = []
    for entry in snapshot["tables"]:
        columns = entry.get("columns") or []
        shown = ", ".join(f"{c.get('name')}: {c.get('type')}" for c in columns[:MAX_COLUMNS_PER_TABLE])
        if len(columns) > MAX_COLUMNS_PER_TABLE:
            shown += f", … ({len(columns) - MAX_COLUMNS_PER_TABLE} more)"
        backend = entry.get("backend") or "unbound"
        lines.append(f"- {entry['variable']} ({backend}): {shown}")
    return "Tables in the active kernel:\n" + "\n".join(lines)


def describe_symbols(symbols: Sequence[Mapping[str, Any]]) -> str:
    if not symbols:
        return "No API reference was retrieved."
    lines = [f"- {s['public_name']}{s.get('signature') or ''}: {s.get('summary') or ''}".rstrip(": ") for s in symbols]
    return "Relevant Ibis API:\n" + "\n".join(lines)


def build_messages(
    question: str,
    snapshot: Mapping[str, Any] | None,
    symbols: Sequence[Mapping[str, Any]],
    ibis_version: str,
) -> list[dict[str, str]]:
    system = SYSTEM_PROMPT.format(ibis_version=ibis_version)
    context = f"{describe_tables(snapshot)}\n\n{describe_symbols(symbols)}"
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": f"{context}\n\nQuestion: {question}"},
    ]
