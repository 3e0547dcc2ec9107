"""The verification pipeline itself: parse → sandbox → build → type-check → SQL.

This module runs candidate code, so it is only ever called inside a verifier worker's
disposable child process (see ``worker.py``); the kernel and the server call ``verify()``,
which ships the code there. It returns plain data (a dict) because the result crosses a pipe.
"""

from __future__ import annotations

import ast
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from ibert_jupyter.verify.report import Stage
from ibert_jupyter.verify.sandbox import ModuleProxy, SandboxError, check_tree, safe_builtins

CANDIDATE_FILENAME = "<ibert-candidate>"

# Names a notebook usually binds by importing them, and the import that binds each one.
KNOWN_IMPORTS: dict[str, str] = {
    "ibis": "import ibis",
    "_": "from ibis import _",
    "s": "import ibis.selectors as s",
    "selectors": "from ibis import selectors",
    "dt": "import ibis.expr.datatypes as dt",
}
DEFAULT_PROVIDED = frozenset({"ibis", "_"})


def bind_result(tree: ast.Module) -> tuple[ast.Module, str]:
    """Bind a cell's final expression (or last assignment) to a name; returns (tree, name).

    The convention every iBERT surface shares: a cell's result is its last expression.
    """
    if not tree.body:
        raise SyntaxError("candidate is empty")
    last = tree.body[-1]
    if isinstance(last, ast.Expr):
        assign = ast.Assign(targets=[ast.Name("__ibert_result__", ast.Store())], value=last.value)
        tree.body[-1] = ast.copy_location(assign, last)
        ast.fix_missing_locations(tree)
        return tree, "__ibert_result__"
    if isinstance(last, (ast.Assign, ast.AnnAssign)):
        target = last.targets[-1] if isinstance(last, ast.Assign) else last.target
        if isinstance(target, ast.Name):
            return tree, target.id
    raise SyntaxError("candidate must end with an Ibis expression or an assignment of one")


def candidate_position(exc: BaseException, code: str) -> tuple[int | None, int | None]:
    """Line and 1-based column of the innermost candidate frame in ``exc``'s traceback."""
    if isinstance(exc, SyntaxError) and exc.filename in (CANDIDATE_FILENAME, None):
        return exc.lineno, exc.offset
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == CANDIDATE_FILENAME]
    if not frames:
        return None, None
    frame = frames[-1]
    column = (frame.colno + 1) if frame.colno is not None else None
    name = getattr(exc, "name", None)
    lines = code.splitlines()
    if name and frame.lineno and frame.lineno <= len(lines):
        text = lines[frame.lineno - 1]
        start = frame.colno or 0
        end = frame.end_colno if frame.end_lineno == frame.lineno and frame.end_colno else len(text)
        idx = text.find(f".{name}", start, end)
        if idx >= 0:
            column = idx + 2
    return frame.lineno, column


def provided_namespace(provided: frozenset[str] | None) -> dict[str, Any]:
    """The Ibis names the candidate may use without importing them."""
    names = DEFAULT_PROVIDED if provided is None else provided
    supply = {
        "ibis": lambda: ModuleProxy(ibis),
        "_": lambda: ibis._,
        "s": lambda: ModuleProxy(__import__("ibis.selectors", fromlist=["x"])),
        "selectors": lambda: ModuleProxy(__import__("ibis.selectors", fromlist=["x"])),
        "dt": lambda: ModuleProxy(__import__("ibis.expr.datatypes", fromlist=["x"])),
    }
    return {name: supply[name]() for name in names if name in supply}


def _missing_import(exc: NameError, provided: frozenset[str] | None) -> str | None:
    name = getattr(exc, "name", None)
    if provided is None or name not in KNOWN_IMPORTS or name in provided:
        return None
    return f"`{name}` is not imported in this notebook: add `{KNOWN_IMPORTS[name]}`"


def table_references(expr: ir.Expr) -> list[str]:
    """Names of the source tables an expression reads (for the preview allow-list)."""
    names = {
        node.name
        for node in expr.op().find((ops.UnboundTable, ops.DatabaseTable))
    }
    return sorted(names)


@dataclass
class _Run:
    """What the stages learn about one candidate, filled in stage by stage."""

    code: str
    tables: Mapping[str, ir.Table]
    dialect: str
    helpers: Mapping[str, Any] | None
    provided: frozenset[str] | None
    tree: ast.Module | None = None
    compiled: Any = None
    result_name: str = ""
    expr: Any = None
    fields: dict[str, Any] = field(default_factory=dict)  # the report's fields on success


def _parse(run: _Run) -> None:
    run.tree = ast.parse(run.code, filename=CANDIDATE_FILENAME)


def _sandbox(run: _Run) -> None:
    check_tree(run.tree)
    tree, run.result_name = bind_result(run.tree)
    run.compiled = compile(tree, CANDIDATE_FILENAME, "exec")


def _build(run: _Run) -> None:
    namespace: dict[str, Any] = {
        "__builtins__": safe_builtins(),
        **provided_namespace(run.provided),
        **(run.helpers or {}),
        **run.tables,
    }
    exec(run.compiled, namespace)  # noqa: S102 - checked above, and this process is disposable
    run.expr = namespace.get(run.result_name)


def _typecheck(run: _Run) -> None:
    expr = run.expr
    if not isinstance(expr, ir.Expr):
        raise TypeError(f"the candidate's result is {type(expr).__name__}, not an Ibis expression")
    if isinstance(expr, ir.Table):
        schema = {name: str(dtype) for name, dtype in expr.schema().items()}
        kind = "table"
    else:
        schema = {expr.get_name() if hasattr(expr, "get_name") else "value": str(expr.type())}
        kind = "column" if isinstance(expr, ir.Column) else "scalar"
    run.fields.update(result_kind=kind, schema=schema, tables=table_references(expr))


def _sql(run: _Run) -> None:
    sql = str(ibis.to_sql(run.expr, dialect=run.dialect))
    table = run.fields["result_kind"] == "table"
    preview_sql = sql if table else str(ibis.to_sql(run.expr.as_table(), dialect=run.dialect))
    run.fields.update(sql=sql, preview_sql=preview_sql)


# The pipeline in order: (stage, step, the exceptions that fail it with a report). Parse and
# sandbox fail only on what they check; from build on, anything the candidate raises is a report.
PIPELINE: tuple[tuple[Stage, Callable[[_Run], None], tuple[type[BaseException], ...]], ...] = (
    (Stage.PARSE, _parse, (SyntaxError,)),
    (Stage.SANDBOX, _sandbox, (SandboxError, SyntaxError)),
    (Stage.BUILD, _build, (Exception,)),
    (Stage.TYPECHECK, _typecheck, (Exception,)),
    (Stage.SQL, _sql, (Exception,)),
)


def _failure(stage: Stage, exc: BaseException, run: _Run, timings: dict[str, float]) -> dict[str, Any]:
    if isinstance(exc, SandboxError):
        line, column = exc.line, exc.column + 1
    else:
        line, column = candidate_position(exc, run.code)
    message = _missing_import(exc, run.provided) if isinstance(exc, NameError) else None
    return {
        "ok": False, "stage": stage, "error_type": type(exc).__name__,
        "message": message or str(exc).strip() or type(exc).__name__,
        "line": line, "column": column, "timings_ms": timings,
    }


def run_candidate(
    code: str,
    tables: Mapping[str, ir.Table],
    *,
    dialect: str,
    helpers: Mapping[str, Any] | None = None,
    provided: frozenset[str] | None = None,
    on_stage: Callable[[str], None] = lambda stage: None,
) -> dict[str, Any]:
    """Run every stage on ``code``; returns the report's fields as plain data."""
    run = _Run(code, tables, dialect, helpers, provided)
    timings: dict[str, float] = {}
    for stage, step, failures in PIPELINE:
        on_stage(stage)
        t0 = time.perf_counter()
        try:
            step(run)
        except failures as exc:  # noqa: BLE001 - a candidate's failure becomes its report
            timings[stage] = (time.perf_counter() - t0) * 1e3
            return _failure(stage, exc, run, timings)
        timings[stage] = (time.perf_counter() - t0) * 1e3
    return {"ok": True, "stage": stage, **run.fields, "timings_ms": timings}
