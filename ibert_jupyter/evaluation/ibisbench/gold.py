"""Run a gold program (trusted: it is ours) and read what its expression says about the result."""

from __future__ import annotations

import ast
from typing import Any, Mapping

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from ibert_jupyter.verify.verifier import bind_result

MAX_RESULT_ROWS = 5000  # gold results stay small enough to compare in full


def build(code: str, tables: Mapping[str, ir.Table]) -> ir.Expr:
    """The expression a gold program ends with (its last expression or assignment)."""
    tree, name = bind_result(ast.parse(code))
    namespace: dict[str, Any] = {"ibis": ibis, "_": ibis._, **tables}
    exec(compile(tree, "<ibisbench-gold>", "exec"), namespace)  # noqa: S102 - our own gold programs
    expr = namespace[name]
    if not isinstance(expr, ir.Expr):
        raise TypeError(f"gold program ends with {type(expr).__name__}, not an Ibis expression")
    return expr


def as_table(expr: ir.Expr) -> ir.Table:
    return expr if isinstance(expr, ir.Table) else expr.as_table()


def execute(expr: ir.Expr):
    """The full result as a DataFrame (scalars and columns become one-column tables)."""
    return as_table(expr).execute()


def order_info(expr: ir.Expr) -> tuple[tuple[int, ...], bool]:
    """(output positions of the final sort keys, whether the result is cut by a limit).

    Keys that are not plain output columns end the list, as in ``sql.compare``.
    """
    table = as_table(expr)
    columns = list(table.columns)
    op, limited = table.op(), False
    # limits and projections over a sort keep its order; look through them
    while isinstance(op, (ops.Limit, ops.Project)):
        limited = limited or isinstance(op, ops.Limit)
        op = op.parent
    positions: list[int] = []
    if isinstance(op, ops.Sort):
        for key in op.keys:
            value = key.arg
            if isinstance(value, ops.Field) and value.name in columns:
                positions.append(columns.index(value.name))
            else:
                break
    return tuple(positions), limited
