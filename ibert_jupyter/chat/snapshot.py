"""Request bodies that carry a kernel's schema snapshot: parse, check, keep what a prompt can use.

``parse_snapshot_body`` is a plain function of bytes so the server can run it in a helper
process for big bodies: json.loads of a 50 MB snapshot is one C call that holds the GIL for
most of a second, and the million objects it creates make the collector pause every thread.
It returns only small data: the body's other fields and a snapshot cut to the tables the
question is most likely about (a prompt cannot describe thousands of tables anyway, and
candidates are verified against the same tables the model was shown).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from typing import Any, Sequence

from ibert_jupyter.errors import IbertInputError

MAX_TABLES = 40  # tables kept for the prompt and verification
MAX_COLUMNS = 6000  # columns kept across those tables
_WORD = re.compile(r"[a-z_][a-z0-9_]*")


class SnapshotBodyError(IbertInputError):
    """The body or its snapshot is malformed; the message names the field."""


@dataclass(frozen=True)
class SnapshotBody:
    fields: dict[str, Any]  # the body without "snapshot"
    snapshot: dict[str, Any] | None  # None when the body had none (or null)
    total_tables: int = 0  # tables in the snapshot as sent

    @property
    def kept_tables(self) -> int:
        return len(self.snapshot["tables"]) if self.snapshot else 0

    @property
    def notice(self) -> str | None:
        """What the user should know when tables were left out."""
        if self.total_tables <= self.kept_tables:
            return None
        return (f"The kernel has {self.total_tables} Ibis tables; the {self.kept_tables} most related "
                "to the request were shown to the model and used for verification.")


def _check_entry(i: int, entry: Any) -> None:
    where = f"'snapshot.tables[{i}]' is malformed"
    if not isinstance(entry, dict) or not isinstance(entry.get("variable"), str) or not entry["variable"]:
        raise SnapshotBodyError(f"{where}: it must be an object with a 'variable' name")
    columns = entry.get("columns")
    if not isinstance(columns, list):
        raise SnapshotBodyError(f"{where}: 'columns' must be a list of {{\"name\", \"type\"}} objects")
    for j, column in enumerate(columns):
        if not (isinstance(column, dict) and isinstance(column.get("name"), str)
                and isinstance(column.get("type"), str)):
            raise SnapshotBodyError(f"{where}: column #{j} must be an object with string 'name' and 'type'")


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 1}


def _score(entry: dict[str, Any], words: set[str]) -> int:
    names = {entry["variable"].lower(), str(entry.get("name") or "").lower()}
    columns = {str(c["name"]).lower() for c in entry["columns"]}
    return 3 * len(words & names) + len(words & columns)


def select_tables(tables: Sequence[dict[str, Any]], query: str,
                  max_tables: int = MAX_TABLES, max_columns: int = MAX_COLUMNS) -> list[dict[str, Any]]:
    """The tables most related to ``query`` (names weigh more than columns), in their order."""
    if len(tables) <= max_tables and sum(len(t["columns"]) for t in tables) <= max_columns:
        return list(tables)
    words = _words(query)
    ranked = sorted(range(len(tables)), key=lambda i: (-_score(tables[i], words), i))
    kept, columns = [], 0
    for i in ranked:
        width = len(tables[i]["columns"])
        if len(kept) == max_tables or (kept and columns + width > max_columns):
            break
        kept.append(i)
        columns += width
    return [tables[i] for i in sorted(kept)]


def parse_json_object(raw: bytes, what: str = "request body") -> dict[str, Any]:
    """A JSON object from ``raw``: the one check of every iBERT request body (the server's
    small routes use it too); SnapshotBodyError names what is wrong."""
    if not raw.strip():
        raise SnapshotBodyError(f"{what} is empty; send a JSON object")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SnapshotBodyError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SnapshotBodyError(f"{what} must be a JSON object, got {type(data).__name__}")
    return data


def parse_snapshot_body(raw: bytes, query_fields: tuple[str, ...] = ()) -> SnapshotBody:
    """Parse a JSON body with an optional "snapshot"; raises SnapshotBodyError on bad input.

    ``query_fields`` name the body's text fields that say what the request is about (they
    rank the tables when there are too many to keep).
    """
    data = parse_json_object(raw)
    snapshot = data.pop("snapshot", None)
    if snapshot is None:
        return SnapshotBody(data, None, 0)
    if not isinstance(snapshot, dict):
        raise SnapshotBodyError(f"'snapshot' must be an object or null, got {type(snapshot).__name__}")
    tables = snapshot.get("tables")
    if not isinstance(tables, list):
        raise SnapshotBodyError("'snapshot' must have a 'tables' list (from ibert_jupyter.context.schema_snapshot)")
    for i, entry in enumerate(tables):
        _check_entry(i, entry)
    query = " ".join(str(data.get(name) or "") for name in query_fields)
    kept = select_tables(tables, query)
    small = {key: value for key, value in snapshot.items() if key not in ("tables", "backends")}
    small["tables"] = kept
    small["backends"] = []  # backend listings can be huge and no prompt uses them
    return SnapshotBody(data, small, len(tables))


def parse_snapshot_file(path: str, query_fields: tuple[str, ...] = ()) -> SnapshotBody:
    """``parse_snapshot_body`` of a file's bytes (a big body the server spooled to disk)."""
    with open(path, "rb") as handle:
        return parse_snapshot_body(handle.read(), query_fields)


def serve() -> None:
    """The helper process's loop: a JSON request line in, a JSON reply line out.

    Request: {"path": str, "fields": [str]}; reply: {"fields", "snapshot", "total_tables"} or
    {"error": str}. Started by the server (``jupyter.services.SnapshotParser``).
    """
    for line in sys.stdin:
        request = json.loads(line)
        try:
            body = parse_snapshot_file(request["path"], tuple(request["fields"]))
            reply = {"fields": body.fields, "snapshot": body.snapshot, "total_tables": body.total_tables}
        except SnapshotBodyError as exc:
            reply = {"error": str(exc)}
        except (MemoryError, RecursionError) as exc:
            reply = {"error": f"the request body is too deeply nested or too large to parse ({type(exc).__name__})"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
