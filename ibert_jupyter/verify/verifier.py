"""Run candidate Ibis code through parse → sandbox → build → type-check → SQL → preview.

The verifier is the product's promise: nothing is shown as working unless it compiled
against the user's own tables. Each stage is timed; the first failure stops the run and is
reported with its line and column in the candidate.
"""

from __future__ import annotations

import ast
import contextlib
import signal
import threading
import time
import traceback
from typing import Any, Mapping

import ibis
import ibis.expr.types as ir

from ibert_jupyter.context.tables import table_backend
from ibert_jupyter.verify.report import VerificationReport
from ibert_jupyter.verify.sandbox import ModuleProxy, SandboxError, check_tree, safe_builtins

CANDIDATE_FILENAME = "<ibert-candidate>"
DEFAULT_BUILD_TIMEOUT_S = 5.0
DEFAULT_PREVIEW_TIMEOUT_S = 20.0


class CandidateTimeout(Exception):
    """The candidate ran longer than its time limit."""


class VerifierInputError(ValueError):
    """The verifier was called with something that is not code or not tables."""


@contextlib.contextmanager
def _deadline(seconds: float | None):
    """Interrupt the main thread after ``seconds`` (no-op off the main thread)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum, frame):
        raise CandidateTimeout(f"candidate ran longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


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


def _candidate_position(exc: BaseException, code: str) -> tuple[int | None, int | None]:
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


def _table_label(variable: str, backend) -> str:
    return f"{variable} ({backend.name if backend is not None else 'unbound'})"


def _run_preview(expr: ir.Expr, rows: int, timeout_s: float):
    """Execute ``expr`` with a row limit on a worker thread, interrupting it on timeout."""
    limited = expr.limit(rows) if isinstance(expr, ir.Table) else expr.as_table().limit(rows)
    backend = limited._find_backend(use_default=False)
    outcome: dict[str, Any] = {}

    def work():
        try:
            outcome["value"] = backend.execute(limited)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="ibert-preview", daemon=True)
    worker.start()
    try:
        worker.join(timeout_s)
    except KeyboardInterrupt:
        _interrupt(backend)
        worker.join(2)
        raise
    if worker.is_alive():
        _interrupt(backend)
        worker.join(2)
        raise CandidateTimeout(f"preview ran longer than {timeout_s:g} s and was interrupted")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _interrupt(backend) -> None:
    connection = getattr(backend, "con", None)
    with contextlib.suppress(Exception):
        connection.interrupt()


def verify(
    code: str,
    tables: Mapping[str, ir.Table],
    *,
    dialect: str | None = None,
    preview: bool = False,
    preview_rows: int = 10,
    build_timeout_s: float | None = DEFAULT_BUILD_TIMEOUT_S,
    preview_timeout_s: float = DEFAULT_PREVIEW_TIMEOUT_S,
    helpers: Mapping[str, Any] | None = None,
) -> VerificationReport:
    """Verify candidate Ibis ``code`` against ``tables`` (variable name → Ibis table).

    ``helpers`` are trusted extra names (functions or constants) the candidate may use.
    Returns a report; never raises for problems in the candidate itself.
    """
    if not isinstance(code, str):
        raise VerifierInputError(f"candidate code must be a string, got {type(code).__name__}")
    for name, table in tables.items():
        if not isinstance(table, ir.Table):
            raise VerifierInputError(f"'{name}' is not an Ibis table ({type(table).__name__})")
    if preview_rows < 1:
        raise VerifierInputError("preview_rows must be at least 1")

    timings: dict[str, float] = {}
    backends = {variable: table_backend(table) for variable, table in tables.items()}
    against = [_table_label(v, b) for v, b in backends.items()]
    bound = [b.name for b in backends.values() if b is not None]
    target_dialect = dialect or (bound[0] if bound else "duckdb")
    stage = "parse"

    def fail(exc: BaseException, line=None, column=None) -> VerificationReport:
        if line is None:
            line, column = _candidate_position(exc, code)
        return VerificationReport(
            ok=False, stage=stage, code=code, error_type=type(exc).__name__,
            message=str(exc).strip() or type(exc).__name__, line=line, column=column,
            dialect=target_dialect, verified_against=against, timings_ms=timings,
        )

    t0 = time.perf_counter()
    try:
        tree = ast.parse(code, filename=CANDIDATE_FILENAME)
    except SyntaxError as exc:
        timings["parse"] = (time.perf_counter() - t0) * 1e3
        return fail(exc, exc.lineno, exc.offset)
    timings["parse"] = (time.perf_counter() - t0) * 1e3

    stage = "sandbox"
    t0 = time.perf_counter()
    try:
        check_tree(tree)
        tree, result_name = bind_result(tree)
        compiled = compile(tree, CANDIDATE_FILENAME, "exec")
    except SandboxError as exc:
        timings["sandbox"] = (time.perf_counter() - t0) * 1e3
        return fail(exc, exc.line, exc.column + 1)
    except SyntaxError as exc:
        timings["sandbox"] = (time.perf_counter() - t0) * 1e3
        return fail(exc, exc.lineno, exc.offset)
    timings["sandbox"] = (time.perf_counter() - t0) * 1e3

    stage = "build"
    namespace: dict[str, Any] = {
        "__builtins__": safe_builtins(),
        "ibis": ModuleProxy(ibis),
        "_": ibis._,
        **(helpers or {}),
        **tables,
    }
    t0 = time.perf_counter()
    try:
        with _deadline(build_timeout_s):
            exec(compiled, namespace)  # noqa: S102 - sandboxed above
        expr = namespace.get(result_name)
    except Exception as exc:  # noqa: BLE001 - any candidate failure becomes a report
        timings["build"] = (time.perf_counter() - t0) * 1e3
        return fail(exc)
    timings["build"] = (time.perf_counter() - t0) * 1e3

    stage = "typecheck"
    t0 = time.perf_counter()
    try:
        if not isinstance(expr, ir.Expr):
            raise TypeError(
                f"the candidate's result is {type(expr).__name__}, not an Ibis expression"
            )
        if isinstance(expr, ir.Table):
            schema = {name: str(dtype) for name, dtype in expr.schema().items()}
            kind = "table"
        else:
            schema = {expr.get_name() if hasattr(expr, "get_name") else "value": str(expr.type())}
            kind = "column" if isinstance(expr, ir.Column) else "scalar"
    except Exception as exc:  # noqa: BLE001
        timings["typecheck"] = (time.perf_counter() - t0) * 1e3
        return fail(exc)
    timings["typecheck"] = (time.perf_counter() - t0) * 1e3

    stage = "sql"
    t0 = time.perf_counter()
    try:
        sql = str(ibis.to_sql(expr, dialect=target_dialect))
    except Exception as exc:  # noqa: BLE001
        timings["sql"] = (time.perf_counter() - t0) * 1e3
        return fail(exc)
    timings["sql"] = (time.perf_counter() - t0) * 1e3

    preview_value = None
    if preview:
        stage = "preview"
        t0 = time.perf_counter()
        try:
            preview_value = _run_preview(expr, preview_rows, preview_timeout_s)
        except Exception as exc:  # noqa: BLE001
            timings["preview"] = (time.perf_counter() - t0) * 1e3
            return fail(exc)
        timings["preview"] = (time.perf_counter() - t0) * 1e3

    return VerificationReport(
        ok=True, stage=stage, code=code, sql=sql, dialect=target_dialect, result_kind=kind,
        schema=schema, preview=preview_value, verified_against=against, timings_ms=timings,
        expression=expr,
    )
