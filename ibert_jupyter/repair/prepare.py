"""Turn a notebook cell into something the verifier can run, and back.

Cells often end by executing (``expr.execute()``, ``.to_pandas()``) or displaying
(``display(expr)``); the verifier builds expressions only and runs its own limited preview.
We strip that last step for verification and put it back on the fixed code.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

EXECUTING_METHODS = frozenset(
    {"execute", "to_pandas", "to_pyarrow", "to_polars", "to_list", "to_pandas_batches", "preview"}
)
DISPLAY_FUNCTIONS = frozenset({"print", "display"})


@dataclass(frozen=True)
class PreparedCell:
    code: str  # what the verifier runs
    suffix: str = ""  # e.g. ".execute()", re-attached to the final expression
    wrapper: str = ""  # e.g. "display", re-wrapped around the final expression

    def with_wrapper(self, wrapper: str) -> PreparedCell:
        return PreparedCell(self.code, suffix=self.suffix, wrapper=wrapper)

    def restore(self, fixed: str) -> str:
        """Re-attach the stripped execution/display step to ``fixed`` code."""
        if not (self.suffix or self.wrapper):
            return fixed
        try:
            tree = ast.parse(fixed)
        except SyntaxError:
            return fixed
        last = tree.body[-1] if tree.body else None
        value = getattr(last, "value", None)
        if value is None:
            return fixed
        lines = fixed.splitlines(keepends=True)
        starts = [0]
        for line in lines:
            starts.append(starts[-1] + len(line))
        begin = starts[value.lineno - 1] + value.col_offset
        end = starts[value.end_lineno - 1] + value.end_col_offset
        inner = fixed[begin:end]
        if self.suffix:
            needs_parens = not isinstance(value, (ast.Name, ast.Attribute, ast.Call, ast.Subscript))
            inner = f"({inner})" if needs_parens else inner
            inner = inner + self.suffix
        if self.wrapper:
            inner = f"{self.wrapper}({inner})"
        return fixed[:begin] + inner + fixed[end:]


def prepare(code: str) -> PreparedCell:
    """Strip a trailing ``.execute()``-style call or ``display(...)`` from the last statement."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return PreparedCell(code)
    if not tree.body:
        return PreparedCell(code)
    last = tree.body[-1]
    value = getattr(last, "value", None)
    if not isinstance(last, (ast.Expr, ast.Assign)) or not isinstance(value, ast.Call):
        return PreparedCell(code)
    lines = code.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def pos(line: int, col: int) -> int:
        return starts[line - 1] + col

    begin, end = pos(value.lineno, value.col_offset), pos(value.end_lineno, value.end_col_offset)
    wrapper = ""
    if (
        isinstance(last, ast.Expr)
        and isinstance(value.func, ast.Name)
        and value.func.id in DISPLAY_FUNCTIONS
        and len(value.args) == 1
        and not value.keywords
    ):
        wrapper = value.func.id
        value = value.args[0]
        inner_begin = pos(value.lineno, value.col_offset)
        inner_end = pos(value.end_lineno, value.end_col_offset)
        code = code[:begin] + code[inner_begin:inner_end] + code[end:]
        return prepare(code).with_wrapper(wrapper) if isinstance(value, ast.Call) else PreparedCell(code, wrapper=wrapper)
    if isinstance(value.func, ast.Attribute) and value.func.attr in EXECUTING_METHODS:
        receiver = value.func.value
        recv_end = pos(receiver.end_lineno, receiver.end_col_offset)
        suffix = code[recv_end:end]
        recv_begin = pos(receiver.lineno, receiver.col_offset)
        return PreparedCell(code[:begin] + code[recv_begin:recv_end] + code[end:], suffix=suffix)
    return PreparedCell(code)

