"""Does converted code give the SQL's own result? The SQL side of the comparison.

Equality itself is ``ibert_jupyter.results_equal`` (the one definition for all of iBERT; its
docstring says why each rule). This module adds what only SQL knows: which output positions
the query orders by, and that a LIMIT without ORDER BY may return any of its rows.
"""

from __future__ import annotations

from typing import Any

import sqlglot
from sqlglot import exp

from ibert_jupyter.results_equal import Comparison, contained_in, results_equal


def order_key_positions(sql: str, dialect: str = "duckdb") -> list[int] | None:
    """Output positions of the top-level ORDER BY keys, or None when the query does not order.

    Keys that are not output columns end the list (ties are then judged on the prefix).
    """
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.SqlglotError:
        return None
    order = tree.args.get("order")
    if order is None:
        return None
    selects = tree.selects if hasattr(tree, "selects") else []
    names = [s.alias_or_name for s in selects]
    bodies = [s.this if isinstance(s, exp.Alias) else s for s in selects]
    positions = []
    for ordered in order.expressions:
        key = ordered.this
        pos = None
        if isinstance(key, exp.Literal) and not key.is_string:
            pos = int(key.this) - 1
        elif isinstance(key, exp.Column) and key.name in names:
            pos = names.index(key.name)
        elif key in bodies:
            pos = bodies.index(key)
        if pos is None:
            break
        positions.append(pos)
    return positions


def _run_sql(con, sql: str):
    return con.con.execute(sql).fetch_arrow_table() if hasattr(con, "con") else con.execute(sql)


def compare_with_sql(con, sql: str, expr: Any, dialect: str = "duckdb") -> Comparison:
    """Run ``sql`` and the Ibis ``expr`` on the DuckDB backend ``con`` and compare the rows."""
    if dialect != "duckdb":
        sql = sqlglot.transpile(sql, read=dialect, write="duckdb")[0]
        dialect = "duckdb"
    expected = _run_sql(con, sql)
    actual = con.execute(expr)
    keys = order_key_positions(sql, dialect)
    tree = None
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.SqlglotError:
        pass
    limited = tree is not None and tree.args.get("limit") is not None
    if limited and keys is None and tree.args.get("offset") is None:
        unlimited = tree.copy()
        unlimited.set("limit", None)
        return contained_in(_run_sql(con, unlimited.sql("duckdb")), expected, actual)
    return results_equal(expected, actual, keys, limited)
