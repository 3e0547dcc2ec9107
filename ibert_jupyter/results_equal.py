"""Are two query results the same answer? The one equality every part of iBERT uses.

The SQL→Ibis transpiler (converted code against the SQL's own result), the repair benchmark
(a fix against the intended cell), IbisBench (a candidate against the gold program) and the
training-data gates (their result fingerprint) all ask this question; one definition keeps
"correct" meaning the same thing in each figure. The rules, and why:

- **Rows are a multiset unless the query orders them.** Without ORDER BY a database may
  return rows in any order, so order cannot count. With ``order_keys`` (output positions of
  the sort keys) the sequence of key values must match, but rows that tie on every key may
  come in any order, and under a LIMIT the last tie group may hold different rows: both are
  legitimate results of the same query.
- **Missing is one value.** None, NaN, NaT and pandas' NA are equal to each other and to
  nothing else: which one a SQL NULL becomes depends on the column's dtype and the path it
  took (Arrow, pandas), not on the query.
- **Floats: equal within a relative 1e-6 or an absolute 1e-6** (``math.isclose``). Relative,
  because summation order (parallel aggregates) and DECIMAL→DOUBLE conversion perturb the
  last digits at any magnitude; absolute as well, because a DECIMAL average rounded to six
  places differs from the DOUBLE one by up to 5e-7 near zero. 1e-6 is far above those errors
  and far below any difference an analyst would call another answer.
- **Integers are exact.** Counts and ids are not measurements: 1,000,000 vs 1,000,001 rows
  is a different answer although it is within 1e-6 relative. An integer compared with a
  float or DECIMAL is compared as a number, with the float tolerance.
- **DECIMAL is a number**, compared as a float: SQL and Ibis may type the same average as
  DECIMAL(p, s) or DOUBLE.
- **Timestamps are instants.** A DATE equals the midnight TIMESTAMP (pandas turns one into
  the other); a time-zone-aware timestamp is compared in UTC, so 10:00+02:00 equals 08:00Z.
- **Columns are matched by position; names count only when asked** (``names=True``: same
  names in the same order). The transpiler's and IbisBench's columns may legitimately be
  named otherwise (``count_star()`` vs ``CountStar()``; IbisBench aligns columns by name or
  values first); a repair must give the user the same frame, names included.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import math
from dataclasses import dataclass
from typing import Any, Sequence

REL_TOL = 1e-6
ABS_TOL = 1e-6


@dataclass(frozen=True)
class Comparison:
    """The verdict, and in words where the results first differ."""

    equal: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.equal


def _is_missing(value: Any) -> bool:
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(value, float) and math.isnan(value)


def canonical(value: Any) -> Any:
    """One cell in the comparable form the rules above define."""
    if _is_missing(value):
        return None
    if isinstance(value, (bool, int, str, bytes)):
        return value
    if isinstance(value, (float, decimal.Decimal)):
        number = float(value)
        return None if math.isnan(number) else number
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None and value.utcoffset() is not None:
            value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        return value
    if isinstance(value, _dt.date):
        return _dt.datetime(value.year, value.month, value.day)
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(canonical(v) for v in value)
    if type(value).__name__ in ("datetime64", "timedelta64"):  # numpy: to microseconds, not int ns
        return canonical(value.astype(f"{type(value).__name__}[us]").tolist())
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return canonical(value.tolist())
    return value


def cells_equal(a: Any, b: Any) -> bool:
    """Two canonical cells: integers exactly, other numbers within the tolerance, nested
    values element by element."""
    if a is None or b is None:
        return a is None and b is None
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(cells_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(cells_equal(a[k], b[k]) for k in a)
    return a == b


def rows_equal(a: Sequence, b: Sequence) -> bool:
    return len(a) == len(b) and all(cells_equal(x, y) for x, y in zip(a, b))


def _sort_key(row: tuple) -> tuple:
    key = []
    for v in row:
        if v is None:
            key.append((0, 0.0, ""))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            key.append((1, float(f"{v:.9g}"), ""))
        else:
            key.append((2, 0.0, str(v)))
    return tuple(key)


def _multiset_equal(left: list[tuple], right: list[tuple]) -> tuple[bool, str]:
    if len(left) != len(right):
        return False, f"{len(left)} rows vs {len(right)} rows"
    for a, b in zip(sorted(left, key=_sort_key), sorted(right, key=_sort_key)):
        if not rows_equal(a, b):
            return False, f"rows differ: {a!r} vs {b!r}"
    return True, ""


def _is_frame(result: Any) -> bool:
    return hasattr(result, "itertuples") and hasattr(result, "columns")


def rows_of(result: Any) -> list[tuple]:
    """Canonical rows of a pandas DataFrame or Series, a pyarrow Table, a list of dicts or of
    tuples, or a scalar (one row, one column)."""
    if _is_frame(result):
        raw = [tuple(r) for r in result.itertuples(index=False, name=None)]
    elif hasattr(result, "to_frame") and hasattr(result, "tolist"):  # pandas Series
        raw = [(v,) for v in result.tolist()]
    elif hasattr(result, "columns") and hasattr(result, "num_rows"):  # pyarrow: by position, names may repeat
        raw = list(zip(*[column.to_pylist() for column in result.columns])) if result.num_columns else []
    elif hasattr(result, "to_pylist"):
        raw = [tuple(d.values()) for d in result.to_pylist()]
    elif isinstance(result, list) and result and isinstance(result[0], dict):
        raw = [tuple(d.values()) for d in result]
    elif isinstance(result, (list, tuple)):
        raw = [tuple(r) if isinstance(r, (list, tuple)) else (r,) for r in result]
    else:
        raw = [(result,)]
    return [tuple(canonical(v) for v in row) for row in raw]


def columns_of(result: Any) -> list[str] | None:
    """Column names, or None where the result has none (rows as tuples, a scalar)."""
    if _is_frame(result):
        return [str(c) for c in result.columns]
    if hasattr(result, "to_frame") and hasattr(result, "name"):
        return [str(result.name)]
    if hasattr(result, "column_names"):
        return [str(c) for c in result.column_names]
    if isinstance(result, list) and result and isinstance(result[0], dict):
        return [str(c) for c in result[0]]
    return None


def _groups(rows: list[tuple], keys: Sequence[int]) -> list[tuple[tuple, list[tuple]]]:
    groups: list[tuple[tuple, list[tuple]]] = []
    for row in rows:
        key = tuple(row[k] for k in keys)
        if groups and rows_equal(groups[-1][0], key):
            groups[-1][1].append(row)
        else:
            groups.append((key, [row]))
    return groups


def results_equal(expected: Any, actual: Any, order_keys: Sequence[int] | None = None,
                  limited: bool = False, names: bool = False) -> Comparison:
    """Is ``actual`` the same answer as ``expected``, by the rules in this module's docstring?

    ``order_keys``: output positions the rows must be sorted by (None: any order).
    ``limited``: the query has a LIMIT, so the last group of tied rows may differ.
    ``names``: column names must also match, in order.
    """
    if names and columns_of(expected) != columns_of(actual):
        return Comparison(False, f"columns {columns_of(expected)} vs {columns_of(actual)}")
    left, right = rows_of(expected), rows_of(actual)
    if left and right and len(left[0]) != len(right[0]):
        return Comparison(False, f"{len(left[0])} columns vs {len(right[0])} columns")
    if len(left) != len(right):
        return Comparison(False, f"{len(left)} rows vs {len(right)} rows")
    if order_keys is None:
        return Comparison(*_multiset_equal(left, right))
    lg, rg = _groups(left, order_keys), _groups(right, order_keys)
    if len(lg) != len(rg):
        return Comparison(False, "different sequence of sort keys")
    for i, ((lk, lrows), (rk, rrows)) in enumerate(zip(lg, rg)):
        if not rows_equal(lk, rk):
            return Comparison(False, f"sort keys differ at group {i}: {lk!r} vs {rk!r}")
        if limited and order_keys and i == len(lg) - 1:
            continue
        ok, why = _multiset_equal(lrows, rrows)
        if not ok:
            return Comparison(False, f"rows tied on the sort keys differ: {why}")
    return Comparison(True)


def contained_in(full: Any, expected: Any, actual: Any) -> Comparison:
    """A LIMIT without ORDER BY may return any rows: as many as ``expected``, all drawn from
    the unlimited result ``full`` (as a multiset)."""
    everything, left, right = rows_of(full), rows_of(expected), rows_of(actual)
    if left and right and len(left[0]) != len(right[0]):
        return Comparison(False, f"{len(left[0])} columns vs {len(right[0])} columns")
    if len(left) != len(right):
        return Comparison(False, f"{len(left)} rows vs {len(right)} rows")
    pool = sorted(everything, key=_sort_key)
    for row in right:
        match = next((i for i, r in enumerate(pool) if rows_equal(r, row)), None)
        if match is None:
            return Comparison(False, f"row {row!r} is not in the query's unlimited result")
        pool.pop(match)
    return Comparison(True)


def fingerprint_cell(value: Any, digits: int = 9) -> Any:
    """A JSON-stable form of one cell for hashing a result: canonical, floats rounded to
    ``digits`` significant digits (a hash cannot hold a tolerance; recorded hashes are checked
    only against re-runs of the same code), timestamps as text."""
    value = canonical(value)
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, (_dt.datetime, _dt.time, _dt.timedelta)):
        return str(value)
    if isinstance(value, dict):
        return {k: fingerprint_cell(v, digits) for k, v in value.items()}
    if isinstance(value, tuple):
        return [fingerprint_cell(v, digits) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    text = str(value)
    return None if text in ("NaT", "nan", "<NA>") else text


def as_frame(value: Any):
    """A pandas DataFrame of a frame, Series or scalar (a scalar in a column named ``value``)."""
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, pd.Series):
        return value.to_frame()
    return pd.DataFrame({"value": [value]})
