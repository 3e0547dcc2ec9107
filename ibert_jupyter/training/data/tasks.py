"""The five tasks rendered as chats, with the prompts the product itself sends the model.

nl2ibis and sql2ibis use ``model.prompts.generation_messages`` (what ``%%ibert`` and
``%%ibert_from_sql`` send); repair uses ``repair.llm.build_repair_prompt`` (``%ibert_fix``'s model
step); api_qa uses ``chat.prompt.build_messages`` (the sidebar chat); fim is the inline
completion request. Training on the serving prompts means the adapter learns the format it
will be asked in. The last assistant message is always the target.
"""

from __future__ import annotations

import ast
import functools
import inspect
import random
from typing import Any, Mapping, Sequence

import ibis

from ibert_jupyter.chat.prompt import build_messages as chat_messages
from ibert_jupyter.model.prompts import generation_messages
from ibert_jupyter.repair.llm import build_repair_prompt

TASKS = ("nl2ibis", "sql2ibis", "repair", "api_qa", "fim")

FIM_SYSTEM = (
    "You are iBERT's inline completion for Ibis code in a notebook cell. Given the code before "
    "and after the cursor, answer with exactly the missing code, nothing else."
)


def snapshot(columns: Mapping[str, Mapping[str, str]], names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A kernel-style schema snapshot of the given tables (variable -> column -> type)."""
    return {
        "version": 1,
        "tables": [
            {"variable": v, "name": (names or {}).get(v, v), "backend": "duckdb", "dialect": "duckdb", "bound": True,
             "columns": [{"name": c, "type": t} for c, t in cols.items()]}
            for v, cols in columns.items()
        ],
        "backends": [],
    }


def fenced(code: str) -> str:
    return f"```python\n{code.rstrip()}\n```"


@functools.cache
def api_doc(api: str) -> dict[str, str] | None:
    """Name, signature and summary of an Ibis API (``Table.filter``, ``ibis.cases``) from the installed docs."""
    import ibis.expr.types as ir

    owner, _, name = api.partition(".")
    base = ibis if owner == "ibis" else getattr(ir, owner, None)
    member = getattr(base, name, None) if base is not None and name else None
    doc = inspect.getdoc(member) if member is not None else None
    if not doc:
        return None
    try:
        signature = str(inspect.signature(member))
    except (TypeError, ValueError):
        signature = ""
    return {"public_name": api, "signature": signature, "summary": " ".join(doc.split("\n\n")[0].split())}


API_OWNERS = ("Table", "GroupedTable", "Value", "Column", "NumericColumn", "NumericValue", "StringValue", "TemporalValue",
              "TimestampValue", "DateValue", "ArrayValue", "StructValue", "JSONValue", "BooleanValue")  # most general first


def used_apis(code: str, limit: int = 4) -> tuple[str, ...]:
    """The Ibis APIs a program calls, named as ``Owner.method`` / ``ibis.fn``, in order of use."""
    import ibis.expr.types as ir

    try:
        tree = ast.parse(code)
    except SyntaxError:
        return ()
    found: list[str] = []
    calls = sorted((n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)),
                   key=lambda n: (n.lineno, n.end_col_offset or 0))
    for node in calls:
        name, base = node.func.attr, node.func.value
        if isinstance(base, ast.Name) and base.id == "ibis":
            api = f"ibis.{name}" if hasattr(ibis, name) else None
        else:
            owner = next((o for o in API_OWNERS if hasattr(getattr(ir, o, object), name)), None)
            api = f"{owner}.{name}" if owner else None
        if api and api not in found and api_doc(api):
            found.append(api)
    return tuple(found[:limit])


def _docs(focus: Sequence[str]) -> list[str]:
    out = []
    for api in focus:
        d = api_doc(api)
        if d:
            out.append(f"{d['public_name']}{d['signature']}\n{d['summary']}")
    return out


def nl2ibis(request: str, snap: Mapping[str, Any], code: str, focus: Sequence[str], rng: random.Random) -> list[dict]:
    docs = _docs(focus) if rng.random() < 0.4 else []
    return [*generation_messages(request, snap, docs=docs), {"role": "assistant", "content": fenced(code)}]


def sql2ibis(sql: str, snap: Mapping[str, Any], code: str, rng: random.Random) -> list[dict]:
    opener = rng.choice([
        "Translate this SQL into Ibis:", "Convert this query to Ibis code:", "Rewrite this SQL as an Ibis expression:",
        "The SQL transpiler could not convert this query; write it in Ibis:",
    ])
    request = f"{opener}\n```sql\n{sql.strip()}\n```"
    return [*generation_messages(request, snap, dialect="duckdb"), {"role": "assistant", "content": fenced(code)}]


def repair(pair, tables, snap_tables) -> list[dict]:
    messages = build_repair_prompt(pair.broken, pair.diagnosis, pair.traceback, snap_tables)
    return [*messages, {"role": "assistant", "content": f"{fenced(pair.fixed)}\n{pair.explanation}"}]


def api_qa(question: str, snap: Mapping[str, Any] | None, code: str, focus: Sequence[str], answer_intro: str) -> list[dict]:
    symbols = [d for d in (api_doc(a) for a in focus) if d]
    messages = chat_messages(question, snap, symbols, ibis.__version__)
    return [*messages, {"role": "assistant", "content": f"{answer_intro}\n\n{fenced(code)}"}]


def fim_split(code: str, rng: random.Random) -> tuple[str, str, str] | None:
    """(prefix, middle, suffix) with the middle one whole sub-expression, argument or line of ``code``."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    lines = code.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(lineno: int, col: int) -> int:
        return starts[lineno - 1] + len(lines[lineno - 1].encode()[:col].decode(errors="ignore"))

    spans = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Call, ast.keyword, ast.Compare, ast.BinOp, ast.List, ast.Attribute, ast.Constant)) and hasattr(node, "end_col_offset"):
            if getattr(node, "end_lineno", None) is None:
                continue
            a, b = offset(node.lineno, node.col_offset), offset(node.end_lineno, node.end_col_offset)
            if 3 <= b - a <= 160:
                spans.append((a, b))
    if not spans:
        return None
    a, b = rng.choice(sorted(set(spans)))
    return code[:a], code[a:b], code[b:]


def fim(prefix: str, middle: str, suffix: str, snap: Mapping[str, Any]) -> list[dict]:
    from ibert_jupyter.model.prompts import describe_tables

    user = (f"Tables in the notebook:\n{describe_tables(snap)}\n\n"
            f"Code before the cursor:\n```python\n{prefix}```\nCode after the cursor:\n```python\n{suffix}```")
    return [{"role": "system", "content": FIM_SYSTEM}, {"role": "user", "content": user}, {"role": "assistant", "content": middle}]
