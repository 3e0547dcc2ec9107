"""Execution accuracy: is a candidate's result the gold result?

One equality function for all of iBERT (``ibert_jupyter.results_equal``: numbers with a
tolerance, integers exact, multisets unless ordered, ties under a limit allowed). Here only what a
candidate may legitimately do differently is undone first: name its columns otherwise or
list them in another order (matched by name when both have the same names, else by each
column's multiset of values).
"""

from __future__ import annotations

import datetime
import hashlib
import json
from typing import Any, Sequence

from ibert_jupyter.results_equal import Comparison, columns_of, results_equal, rows_of


def _column_signature(rows: list[tuple], i: int) -> tuple:
    return tuple(sorted((json.dumps(_digest_cell(r[i]), default=str) for r in rows)))


def _column_order(expected_rows: list[tuple], rows: list[tuple], want: list[str], have: list[str]) -> list[int] | None:
    """Where each gold column sits in the candidate: by name, else by its multiset of values."""
    if want and have and sorted(want) == sorted(have):
        return [have.index(c) for c in want]
    if not rows or not expected_rows or len(rows[0]) != len(expected_rows[0]):
        return None
    theirs = [_column_signature(rows, i) for i in range(len(rows[0]))]
    order, free = [], set(range(len(theirs)))
    for i in range(len(expected_rows[0])):
        mine = _column_signature(expected_rows, i)
        match = next((j for j in sorted(free) if theirs[j] == mine), None)
        if match is None:
            return None
        order.append(match)
        free.discard(match)
    return order


def aligned_rows(expected: Any, actual: Any) -> list[tuple]:
    """The candidate's rows with its columns in the gold's order, matched by name or by values."""
    rows = rows_of(actual)
    want, have = columns_of(expected) or [], columns_of(actual) or []
    order = None if want == have else _column_order(rows_of(expected), rows, want, have)
    if order is not None and order != list(range(len(order))):
        rows = [tuple(r[i] for i in order) for r in rows]
    return rows


def same_result(expected: Any, actual: Any, order_keys: Sequence[int] | None = None,
                limited: bool = False) -> Comparison:
    """Equal results? ``order_keys`` (gold output positions) only when the request orders."""
    return results_equal(rows_of(expected), aligned_rows(expected, actual), order_keys or None, limited)


def _digest_cell(value: Any) -> Any:
    """A canonical cell as the gold files record it: numbers as floats to 6 significant digits,
    timestamps in ISO form (the recorded digests and heads depend on this exact form)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(f"{value:.6g}")
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return value


def digest(result: Any, order_keys: Sequence[int] | None = None) -> str:
    """A stable fingerprint of a result (floats to 6 significant digits; sorted unless ordered)."""
    rows = [tuple(_digest_cell(v) for v in r) for r in rows_of(result)]
    if not order_keys:
        rows.sort(key=lambda r: json.dumps(r, default=str))
    return hashlib.sha256(json.dumps(rows, default=str).encode()).hexdigest()[:16]


def head_rows(result: Any, n: int = 3) -> list[list]:
    return [[_digest_cell(v) for v in r] for r in rows_of(result)[:n]]
