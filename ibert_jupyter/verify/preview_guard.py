"""Safe previews: run a verified candidate's SQL on the user's live backend, or refuse.

Candidate code never runs here; the worker sent back SQL text, and this module decides
whether that SQL may touch the user's connection. It parses it with sqlglot and allows only
a read-only query over the tables the user's own variables name: no table functions
(``read_csv``, ``glob``, ``query``...), no file paths or string table names, no statements
other than a query (``COPY``, ``ATTACH``, ``PRAGMA``, ``SET``, ``INSTALL``/``LOAD``...), no
functions that read files, settings or secrets, and on DuckDB no function that is not one of
DuckDB's own built-ins (so no UDFs). Size amplifiers (``repeat``) are capped. The query then
runs with a row limit, a byte limit and a deadline enforced by ``con.interrupt()``.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any, Mapping

import sqlglot
from sqlglot import exp

from ibert_jupyter.errors import Refused
from ibert_jupyter.verify.sandbox import CandidateTimeout

SAFE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
DENIED_FUNCTION = re.compile(
    r"^(read_|scan_|glob$|sniff_csv|parquet_|query$|query_table|getenv|duckdb_|pragma_|"
    r"which_secret|current_setting|load|install|system|shell|http|iceberg_|delta_|sqlite_|"
    r"postgres_|mysql_|json_execute|pg_|lo_|dblink|file|copy|export|import|checkpoint|"
    r"enable_|disable_|set_|txid|sleep|pg_sleep|benchmark|list_resize|array_resize)",
    re.IGNORECASE,
)
# statement and clause kinds a read-only preview never contains
_DENIED_NODE_NAMES = (
    "DDL", "DML", "Command", "Set", "SetItem", "Pragma", "Copy", "Attach", "Detach", "Install",
    "Use", "Transaction", "Commit", "Rollback", "Describe", "Into", "LoadData", "Create",
    "Drop", "Alter", "Insert", "Update", "Delete", "Merge", "Cache", "Uncache", "Refresh",
    "Summarize", "Export", "Grant", "Revoke", "Kill", "Show", "Analyze", "Comment",
)
_DENIED_NODES = tuple(t for t in (getattr(exp, n, None) for n in _DENIED_NODE_NAMES) if isinstance(t, type))
_QUERY_ROOTS = tuple(t for t in (getattr(exp, n, None) for n in ("Select", "Union", "Intersect", "Except", "Subquery")) if isinstance(t, type))
_GENERATORS = tuple(t for t in (getattr(exp, n, None) for n in ("GenerateSeries", "GenerateDateArray", "Explode")) if isinstance(t, type))
MAX_REPEAT = 10_000
MAX_GENERATED = 100_000


class PreviewRefused(Refused):
    """The candidate's SQL is not a safe read-only query over the known tables."""


class PreviewLimitExceeded(Refused):
    """The preview produced more bytes than its limit allows."""


@dataclass(frozen=True)
class KnownTable:
    """A table the preview may read: its name as the SQL spells it, and where it lives."""

    name: str
    database: str | None = None
    catalog: str | None = None


def check_preview_sql(
    sql: str,
    dialect: str,
    known: Mapping[str, KnownTable],
    builtin_functions: frozenset[str] | None = None,
) -> exp.Expression:
    """Parse ``sql`` and return its tree if it is an allowed preview; else PreviewRefused.

    ``known`` maps each SQL table name to where it must live. ``builtin_functions`` (lower
    case), when given, is the engine's own function catalogue: any other function is refused.
    """
    try:
        statements = sqlglot.parse(sql, read=dialect)
    except sqlglot.errors.SqlglotError as exc:
        raise PreviewRefused(f"the SQL could not be parsed for checking ({type(exc).__name__})") from exc
    statements = [s for s in statements if s is not None]
    if len(statements) != 1:
        raise PreviewRefused(f"expected one query, got {len(statements)} statements")
    tree = statements[0]
    if not isinstance(tree, _QUERY_ROOTS):
        raise PreviewRefused(f"only a read-only query may be previewed, not {type(tree).__name__}")
    ctes = set()
    for cte in tree.find_all(exp.CTE):
        alias = cte.alias_or_name
        if not SAFE_NAME.match(alias or ""):
            raise PreviewRefused(f"common table expression name {alias!r} is not a plain name")
        ctes.add(alias)
    for node in tree.walk():
        if isinstance(node, _DENIED_NODES):
            raise PreviewRefused(f"{type(node).__name__} is not allowed in a preview")
        if isinstance(node, exp.Table):
            _check_table(node, known, ctes)
        elif isinstance(node, exp.Func):
            _check_function(node, builtin_functions)
    return tree


def _check_table(node: exp.Table, known: Mapping[str, KnownTable], ctes: set[str]) -> None:
    if not isinstance(node.this, exp.Identifier):
        raise PreviewRefused(f"table functions are not allowed in a preview ({node.this.sql()[:60]})")
    name = node.name
    if not node.args.get("db") and not node.args.get("catalog") and name in ctes:
        return
    table = known.get(name)
    if table is None:
        raise PreviewRefused(f"the query reads {name[:80]!r}, which is not one of the notebook's tables")
    if (node.db or None) != table.database or (node.catalog or None) != table.catalog:
        raise PreviewRefused(f"the query reads {node.sql()[:80]}, not the notebook's table {name!r}")


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name)
    return node.sql_name()


def _unnests_stored_column(node: exp.Func) -> bool:
    """UNNEST of a column as stored (not of a computed array): e.g. ``t.tags.unnest()``."""
    args = list(node.iter_expressions())
    return isinstance(node, exp.Explode) and len(args) == 1 and isinstance(args[0], exp.Column)


def _check_function(node: exp.Func, builtin_functions: frozenset[str] | None) -> None:
    name = _function_name(node)
    if DENIED_FUNCTION.match(name) or type(node).__name__.startswith("Read"):
        raise PreviewRefused(f"function {name}() is not allowed in a preview")
    if isinstance(node, exp.Anonymous) and builtin_functions is not None:
        if name.lower() not in builtin_functions:
            raise PreviewRefused(
                f"function {name}() is not one of the engine's built-in functions "
                "(user-defined functions are not run in previews)"
            )
    if _unnests_stored_column(node):
        return  # bounded by the data already in the notebook's tables: it cannot amplify
    if isinstance(node, _GENERATORS) or name.lower() in ("range", "generate_series"):
        for arg in node.iter_expressions():
            literal = arg.this if isinstance(arg, exp.Neg) else arg
            if not (isinstance(literal, exp.Literal) and not literal.is_string
                    and abs(float(literal.this)) <= MAX_GENERATED):
                raise PreviewRefused(f"{name}() with a computed or large bound is not previewed")


def cap_amplifiers(tree: exp.Expression) -> exp.Expression:
    """Bound every ``repeat`` count so one value cannot grow past MAX_REPEAT copies."""

    def cap(node: exp.Expression) -> exp.Expression:
        if _is_repeat(node):
            times = node.args.get("times") if "times" in node.args else None
            if times is not None:
                node.set("times", exp.func("LEAST", times.copy(), exp.Literal.number(MAX_REPEAT)))
            elif len(node.expressions) >= 2:
                args = list(node.expressions)
                args[1] = exp.func("LEAST", args[1].copy(), exp.Literal.number(MAX_REPEAT))
                node.set("expressions", args)
        return node

    return tree.transform(cap)


def _is_repeat(node: exp.Expression) -> bool:
    return (type(node).__name__ == "Repeat") or (
        isinstance(node, exp.Anonymous) and str(node.name).lower() in ("repeat", "lpad", "rpad")
    )


_BUILTINS_CACHE: dict[int, frozenset[str]] = {}


def duckdb_builtins(connection) -> frozenset[str]:
    """DuckDB's own function names (``internal``): user-registered functions are not."""
    key = id(connection)
    if key not in _BUILTINS_CACHE:
        rows = connection.execute(
            "SELECT DISTINCT lower(function_name) FROM duckdb_functions() WHERE internal"
        ).fetchall()
        _BUILTINS_CACHE[key] = frozenset(r[0] for r in rows)
    return _BUILTINS_CACHE[key]


def run_duckdb_preview(
    connection, sql: str, *, rows: int, max_bytes: int, timeout_s: float,
):
    """Run a checked query with row, byte and time limits; returns a pyarrow Table.

    The deadline calls ``connection.interrupt()``, which stops DuckDB's own threads (a
    Python-level alarm cannot); the byte limit stops reading once the results grow too big.
    """
    import pyarrow as pa

    limited = f"SELECT * FROM ({sql}) AS ibert_preview LIMIT {int(rows)}"
    timed_out = threading.Event()

    def interrupt() -> None:
        timed_out.set()
        connection.interrupt()

    timer = threading.Timer(timeout_s, interrupt)
    timer.daemon = True
    timer.start()
    batches, total = [], 0
    try:
        reader = connection.execute(limited).fetch_record_batch(1024)
        schema = reader.schema
        for batch in reader:
            total += batch.nbytes
            if total > max_bytes:
                keep = _rows_within(batch, max_bytes - (total - batch.nbytes))
                if keep:
                    batches.append(batch.slice(0, keep))
                if not batches:
                    raise PreviewLimitExceeded(
                        f"the preview's first row is larger than {max_bytes} bytes"
                    )
                break
            batches.append(batch)
    except Exception as exc:
        if timed_out.is_set():
            raise CandidateTimeout(f"preview ran longer than {timeout_s:g} s and was interrupted") from exc
        raise
    finally:
        timer.cancel()
    return pa.Table.from_batches(batches, schema=schema)


def _rows_within(batch, budget: int) -> int:
    if batch.num_rows == 0 or budget <= 0:
        return 0
    per_row = max(1, batch.nbytes // batch.num_rows)
    keep = min(batch.num_rows, budget // per_row)
    while keep and batch.slice(0, keep).nbytes > budget:
        keep //= 2
    return keep


def to_frame(table, schema: Mapping[str, str]) -> Any:
    """Arrow → pandas with Ibis's own conversions (same frame as ``con.execute``)."""
    import ibis
    import pandas as pd
    import pyarrow.types as pat
    from ibis.backends.duckdb.converter import DuckDBPandasData

    df = pd.DataFrame(
        {
            name: (col.to_pylist() if (pat.is_nested(col.type) or pat.is_dictionary(col.type) or col.null_count) else col.to_pandas())
            for name, col in zip(table.column_names, table.columns)
        }
    )
    if list(schema) == list(df.columns):
        df = DuckDBPandasData.convert_table(df, ibis.schema(schema))
    return df
