"""Do two query results hold the same rows? Used to check converted SQL against the original.

Columns are compared by position (names may legitimately differ), numbers with a tolerance
(DECIMAL vs DOUBLE is fine), dates equal midnight timestamps. Rows are compared as multisets
unless the SQL orders its output; then the sequence of sort keys must match while rows that
tie on every key may come in any order (and the last tie group may differ under a LIMIT).
"""

from __future__ import annotations

import datetime as _dt
import decimal
import math
from dataclasses import dataclass
from typing import Any, Sequence

import sqlglot
from sqlglot import exp

REL_TOL = 1e-6
ABS_TOL = 1e-6


@dataclass(frozen=True)
class Comparison:
    equal: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.equal


def _norm(value: Any) -> Any:
    """A canonical, comparable form of one cell."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, decimal.Decimal)):
        return float(value)
    if isinstance(value, _dt.datetime):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, _dt.date):
        return _dt.datetime(value.year, value.month, value.day).isoformat()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        return _norm(value.item())
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return _norm(value.to_pydatetime())
    return value


def _sort_key(row: tuple) -> tuple:
    key = []
    for v in row:
        if v is None:
            key.append((0, ""))
        elif isinstance(v, float):
            key.append((1, float(f"{v:.9g}")))
        else:
            key.append((2, str(v)))
    return tuple(key)


def _cells_equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return a == b


def _rows_equal(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(_cells_equal(x, y) for x, y in zip(a, b))


def _multiset_equal(left: list[tuple], right: list[tuple]) -> tuple[bool, str]:
    if len(left) != len(right):
        return False, f"{len(left)} rows vs {len(right)} rows"
    for i, (a, b) in enumerate(zip(sorted(left, key=_sort_key), sorted(right, key=_sort_key))):
        if not _rows_equal(a, b):
            return False, f"rows differ: {a!r} vs {b!r}"
    return True, ""


def rows_of(table: Any) -> list[tuple]:
    """Rows of a pandas DataFrame, pyarrow Table or list of tuples, normalised."""
    if hasattr(table, "itertuples"):
        raw = [tuple(r) for r in table.itertuples(index=False, name=None)]
    elif hasattr(table, "columns") and hasattr(table, "num_rows"):  # pyarrow: by position, names may repeat
        raw = list(zip(*[column.to_pylist() for column in table.columns])) if table.num_columns else []
    elif hasattr(table, "to_pylist"):
        raw = [tuple(d.values()) for d in table.to_pylist()]
    else:
        raw = [tuple(r) for r in table]
    return [tuple(_norm(v) for v in row) for row in raw]


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


def _groups(rows: list[tuple], keys: Sequence[int]) -> list[tuple[tuple, list[tuple]]]:
    groups: list[tuple[tuple, list[tuple]]] = []
    for row in rows:
        key = tuple(row[k] for k in keys)
        if groups and _rows_equal(groups[-1][0], key):
            groups[-1][1].append(row)
        else:
            groups.append((key, [row]))
    return groups


def compare_rows(
    expected: Any, actual: Any, order_keys: Sequence[int] | None = None, limited: bool = False
) -> Comparison:
    """Compare two results; ``order_keys`` are output positions the rows must be sorted by."""
    left, right = rows_of(expected), rows_of(actual)
    if left and right and len(left[0]) != len(right[0]):
        return Comparison(False, f"{len(left[0])} columns vs {len(right[0])} columns")
    if len(left) != len(right):
        return Comparison(False, f"{len(left)} rows vs {len(right)} rows")
    if order_keys is None:
        ok, why = _multiset_equal(left, right)
        return Comparison(ok, why)
    lg, rg = _groups(left, order_keys), _groups(right, order_keys)
    if len(lg) != len(rg):
        return Comparison(False, "different sequence of sort keys")
    for i, ((lk, lrows), (rk, rrows)) in enumerate(zip(lg, rg)):
        if not _rows_equal(lk, rk):
            return Comparison(False, f"sort keys differ at group {i}: {lk!r} vs {rk!r}")
        last = i == len(lg) - 1
        if last and limited and order_keys:
            continue
        ok, why = _multiset_equal(lrows, rrows)
        if not ok:
            return Comparison(False, f"rows tied on the sort keys differ: {why}")
    return Comparison(True)


def compare_subset(full: Any, expected: Any, actual: Any) -> Comparison:
    """A LIMIT without ORDER BY may return any rows: as many as the SQL, all drawn from its
    unlimited result (as a multiset)."""
    everything, left, right = rows_of(full), rows_of(expected), rows_of(actual)
    if left and right and len(left[0]) != len(right[0]):
        return Comparison(False, f"{len(left[0])} columns vs {len(right[0])} columns")
    if len(left) != len(right):
        return Comparison(False, f"{len(left)} rows vs {len(right)} rows")
    pool = sorted(everything, key=_sort_key)
    for row in right:
        match = next((i for i, r in enumerate(pool) if _rows_equal(r, row)), None)
        if match is None:
            return Comparison(False, f"row {row!r} is not in the query's unlimited result")
        pool.pop(match)
    return Comparison(True)


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
        return compare_subset(_run_sql(con, unlimited.sql("duckdb")), expected, actual)
    return compare_rows(expected, actual, keys, limited)
