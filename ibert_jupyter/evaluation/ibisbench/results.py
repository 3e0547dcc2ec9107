"""Execution accuracy: is a candidate's result the gold result?

One equality function for all of iBERT (``ibert_jupyter.sql.compare.compare_rows``: numbers
with a tolerance, multisets unless ordered, ties under a limit allowed). Here only what a
candidate may legitimately do differently is undone first: name its columns otherwise or
list them in another order (matched by name when both have the same names).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Sequence

from ibert_jupyter.sql.compare import Comparison, compare_rows, rows_of


def _frame_columns(result: Any) -> list[str]:
    if hasattr(result, "columns"):
        return [str(c) for c in result.columns]
    if hasattr(result, "column_names"):
        return list(result.column_names)
    if isinstance(result, list) and result and isinstance(result[0], dict):
        return list(result[0])
    return []


def _rows(result: Any) -> list[tuple]:
    if isinstance(result, list) and result and isinstance(result[0], dict):
        return rows_of([tuple(r.values()) for r in result])
    return rows_of(result)


def aligned_rows(expected: Any, actual: Any) -> list[tuple]:
    """The candidate's rows with its columns in the gold's order when the names agree."""
    rows = _rows(actual)
    want, have = _frame_columns(expected), _frame_columns(actual)
    if want and have and want != have and sorted(want) == sorted(have):
        index = [have.index(c) for c in want]
        rows = [tuple(r[i] for i in index) for r in rows]
    return rows


def same_result(expected: Any, actual: Any, order_keys: Sequence[int] | None = None,
                limited: bool = False) -> Comparison:
    """Equal results? ``order_keys`` (gold output positions) only when the request orders."""
    return compare_rows(_rows(expected), aligned_rows(expected, actual), order_keys or None, limited)


def _digest_cell(value: Any) -> Any:
    return float(f"{value:.6g}") if isinstance(value, float) else value


def digest(result: Any, order_keys: Sequence[int] | None = None) -> str:
    """A stable fingerprint of a result (floats to 6 significant digits; sorted unless ordered)."""
    rows = [tuple(_digest_cell(v) for v in r) for r in _rows(result)]
    if not order_keys:
        rows.sort(key=lambda r: json.dumps(r, default=str))
    return hashlib.sha256(json.dumps(rows, default=str).encode()).hexdigest()[:16]


def head_rows(result: Any, n: int = 3) -> list[list]:
    return [[_digest_cell(v) for v in r] for r in _rows(result)[:n]]
