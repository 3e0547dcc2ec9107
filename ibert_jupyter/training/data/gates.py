"""The gates every kept program passes: the sandboxed verifier, then full execution on DuckDB.

A program is kept only if ``verify()`` accepts it against the schema's bound tables and its
whole result executes; the result's row count and a canonical hash are recorded so anyone
can re-run the saved code and check it still gives the same answer. Each rejection is
counted by stage (``verify:<stage>``, ``execute``) and reason (the exception type).
"""

from __future__ import annotations

import collections
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

import ibis.expr.types as ir

from ibert_jupyter.results_equal import fingerprint_cell
from ibert_jupyter.verify import verify


@dataclass(frozen=True)
class Verified:
    """A program that passed both gates."""

    code: str
    sql: str
    result_kind: str
    result_rows: int
    result_hash: str


class Rejections:
    """Counts of rejected candidates by stage and by stage/reason."""

    def __init__(self) -> None:
        self.by_stage: collections.Counter[str] = collections.Counter()
        self.by_reason: collections.Counter[str] = collections.Counter()

    def add(self, stage: str, reason: str, n: int = 1) -> None:
        self.by_stage[stage] += n
        self.by_reason[f"{stage}: {reason}"] += n

    def merge(self, other: Mapping[str, Any]) -> None:
        self.by_stage.update(other.get("by_stage", {}))
        self.by_reason.update(other.get("by_reason", {}))

    def to_dict(self) -> dict[str, dict[str, int]]:
        return {"by_stage": dict(self.by_stage), "by_reason": dict(self.by_reason)}


def _cell(value: Any) -> Any:
    """A JSON-stable form of one result value: ``results_equal``'s canonical cell (NULL, NaN
    and NaT alike; DECIMAL as a number; a DATE as its midnight), floats to 9 significant
    digits, so the fingerprint agrees with the equality every benchmark uses."""
    return fingerprint_cell(value, digits=9)


def fingerprint(result: Any) -> tuple[int, str]:
    """(row count, order-insensitive hash) of an executed result (DataFrame, Series or scalar)."""
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        rows = [json.dumps([_cell(v) for v in row], sort_keys=True, default=str) for row in result.itertuples(index=False, name=None)]
        header = list(map(str, result.columns))
    elif isinstance(result, pd.Series):
        rows = [json.dumps(_cell(v), sort_keys=True, default=str) for v in result.tolist()]
        header = [str(result.name)]
    else:
        rows = [json.dumps(_cell(result), sort_keys=True, default=str)]
        header = ["scalar"]
    digest = hashlib.sha1(json.dumps([header, sorted(rows)]).encode()).hexdigest()
    return len(rows), f"py:{digest}"


SQL_FINGERPRINT = "SELECT count(*), coalesce(sum(hash(_row)::HUGEINT), 0)::VARCHAR FROM ({sql}) AS _row"


def sql_fingerprint(con, sql: str) -> tuple[int, str]:
    """(row count, order-insensitive hash) of the whole result of ``sql``, computed inside DuckDB.

    Run with one DuckDB thread so float aggregates add up in the same order every time.
    """
    rows, total = con.execute(SQL_FINGERPRINT.format(sql=sql)).fetchone()
    return int(rows), f"sql:{total}" if rows else "sql:0"


def _duckdb_of(tables: Mapping[str, ir.Table]):
    """The raw duckdb connection all ``tables`` are bound to, or None (memtables, mixed backends)."""
    from ibert_jupyter.context.tables import table_backend

    backends = {id(b): b for b in (table_backend(t) for t in tables.values())}
    if len(backends) != 1:
        return None
    backend = next(iter(backends.values()))
    return getattr(backend, "con", None) if backend is not None and backend.name == "duckdb" else None


EMPTY_SCALAR = "py:" + hashlib.sha1(json.dumps([["scalar"], ["null"]]).encode()).hexdigest()


def build(code: str, tables: Mapping[str, ir.Table]) -> Any:
    """The expression ``code`` ends with, built in a plain namespace (ibis, ``_``, the tables).

    Called only on code the verifier already accepted; it does not depend on the verifier
    handing its expression back (it may run in another process).
    """
    import ast

    import ibis

    tree = ast.parse(code)
    last = tree.body[-1]
    namespace: dict[str, Any] = {"ibis": ibis, "_": ibis._, **tables}
    if isinstance(last, ast.Expr):
        tree.body[-1] = ast.copy_location(ast.Assign(targets=[ast.Name("__result__", ast.Store())], value=last.value), last)
        ast.fix_missing_locations(tree)
        name = "__result__"
    else:
        target = last.targets[-1] if isinstance(last, ast.Assign) else last.target
        name = target.id
    exec(compile(tree, "<ibert-training-program>", "exec"), namespace)  # noqa: S102 - verified code
    return namespace[name]


def check(code: str, tables: Mapping[str, ir.Table], rejections: Rejections) -> Verified | None:
    """Verify ``code`` against bound ``tables``, execute it in full; None (counted) if it fails."""
    report = verify(code, tables)
    if not report.ok:
        rejections.add(f"verify:{report.stage}", report.error_type or "error")
        return None
    try:
        con = _duckdb_of(tables)
        if con is not None and report.sql:
            rows, digest = sql_fingerprint(con, report.sql)
        else:
            rows, digest = fingerprint(build(code, tables).execute())
    except Exception as exc:  # noqa: BLE001 - any failure of the database is a rejection
        rejections.add("execute", type(exc).__name__)
        return None
    if rows == 0 or digest in (EMPTY_SCALAR, "sql:0"):
        rejections.add("execute", "empty result")
        return None
    return Verified(code, stable_names(report.sql or ""), report.result_kind or "table", rows, digest)


_RANDOM_NAME = re.compile(r"\b(ibis_[a-z_]+?)_[a-z0-9]{26}\b")


def stable_names(sql: str) -> str:
    """Ibis names memtables, unnest columns and lambda arguments with random suffixes
    (``ibis_pandas_memtable_<26 chars>``); number them by first use so builds are reproducible."""
    names: dict[str, str] = {}
    return _RANDOM_NAME.sub(lambda m: names.setdefault(m.group(0), f"{m.group(1)}_{len(names)}"), sql)
