"""Verify candidate Ibis code: parse → sandbox → build → type-check → SQL → preview.

The verifier is the product's promise: nothing is shown as working unless it compiled
against the user's own tables. Candidate code never runs in this process: ``verify()``
describes the tables (names, columns, types) and ships the code to an isolated worker
(``pool.py``/``worker.py``), which builds it on *unbound* tables and returns SQL, schema and
table references. A preview then runs that SQL on the user's live backend only if
``preview_guard`` accepts it. Each stage is timed; the first failure stops the run and is
reported with its line and column in the candidate.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any, Collection, Mapping

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from ibert_jupyter.context.namespace import is_plain_data
from ibert_jupyter.context.tables import table_backend
from ibert_jupyter.errors import IbertInputError
from ibert_jupyter.verify.candidate import CANDIDATE_FILENAME, bind_result, candidate_position
from ibert_jupyter.verify.pool import WorkerError, WorkerPool, WorkerUnavailable, default_pool
from ibert_jupyter.verify.preview_guard import (
    KnownTable,
    PreviewRefused,
    cap_amplifiers,
    check_preview_sql,
    duckdb_builtins,
    run_duckdb_preview,
    to_frame,
)
from ibert_jupyter.verify.report import STAGES, Stage, VerificationReport
from ibert_jupyter.verify.sandbox import CandidateTimeout  # re-exported: the timeout callers catch

__all__ = [
    "CANDIDATE_FILENAME", "CandidateTimeout", "VerifierInputError", "bind_result",
    "candidate_position", "verify",
]

DEFAULT_BUILD_TIMEOUT_S = 5.0
DEFAULT_PREVIEW_TIMEOUT_S = 20.0
DEFAULT_PREVIEW_BYTES = 16 * 2**20
PLACEHOLDER_PREFIX = "ibert_input_"


class VerifierInputError(IbertInputError):
    """The verifier was called with something that is not code or not tables."""


# ---------------------------------------------------------------- describing the tables

def _table_spec(variable: str, table: ir.Table) -> dict[str, Any]:
    """How the worker rebuilds ``table`` unbound: the real name for database tables, else a
    placeholder that a preview replaces with the user's own (trusted) expression."""
    op = table.op()
    entry: dict[str, Any] = {"variable": variable}
    if isinstance(op, (ops.DatabaseTable, ops.UnboundTable)) and not isinstance(op, ops.InMemoryTable):
        entry["name"] = op.name
        namespace = getattr(op, "namespace", None)
        entry["database"] = getattr(namespace, "database", None)
        entry["catalog"] = getattr(namespace, "catalog", None)
    else:
        entry["name"] = f"{PLACEHOLDER_PREFIX}{variable}"
    entry["columns"] = [[name, str(dtype)] for name, dtype in table.schema().items()]
    return entry


_SPEC_CACHE: dict[int, tuple[ir.Table, dict]] = {}
_SPEC_LOCK = threading.Lock()


def _cached_spec(variable: str, table: ir.Table) -> dict:
    key = id(table)
    with _SPEC_LOCK:
        hit = _SPEC_CACHE.get(key)
        if hit is not None and hit[0] is table and hit[1]["variable"] == variable:
            return hit[1]
    spec = _table_spec(variable, table)
    with _SPEC_LOCK:
        if len(_SPEC_CACHE) > 4096:
            _SPEC_CACHE.clear()
        _SPEC_CACHE[key] = (table, spec)  # keeps the table alive, so its id is not reused
    return spec


_SNAPSHOT_MEMO: dict[tuple, tuple[list, list[dict], str]] = {}


def describe_tables(tables: Mapping[str, ir.Table]) -> tuple[list[dict], str]:
    """The schema snapshot the worker sees, and its hash (the worker caches by hash)."""
    identity = tuple((variable, id(table)) for variable, table in tables.items())
    with _SPEC_LOCK:
        hit = _SNAPSHOT_MEMO.get(identity)
    if hit is not None and all(a is b for a, b in zip(hit[0], tables.values())):
        return hit[1], hit[2]
    snapshot = [_cached_spec(variable, table) for variable, table in tables.items()]
    key = hashlib.sha256(json.dumps(snapshot, sort_keys=True).encode()).hexdigest()
    with _SPEC_LOCK:
        if len(_SNAPSHOT_MEMO) > 1024:
            _SNAPSHOT_MEMO.clear()
        _SNAPSHOT_MEMO[identity] = (list(tables.values()), snapshot, key)  # keeps ids valid
    return snapshot, key


# ---------------------------------------------------------------- trusted helpers

_HELPER_CACHE: dict[int, tuple[Any, dict]] = {}


def _helper_spec(name: str, value: Any) -> dict:
    """Helpers cross into the worker as plain data or an importable reference."""
    if is_plain_data(value):
        return {"value": value}
    hit = _HELPER_CACHE.get(id(value))
    if hit is not None and hit[0] is value:
        return hit[1]
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    code = getattr(value, "__code__", None)
    if module and qualname and code is not None and _resolves_to(module, qualname, code):
        spec = {"ref": f"{module}:{qualname}"}
        _HELPER_CACHE[id(value)] = (value, spec)
        return spec
    raise VerifierInputError(
        f"helper {name!r} cannot be sent to the isolated verifier: helpers must be plain data "
        "or functions importable by module and name (or returned by a no-argument factory)"
    )


def _resolves_to(module_name: str, qualname: str, code) -> bool:
    import importlib

    try:
        value = importlib.import_module(module_name)
        outer, _, inner = qualname.partition(".<locals>.")
        for attr in outer.split("."):
            value = getattr(value, attr)
        if inner:
            if "." in inner or value.__code__.co_argcount:
                return False
            value = value()[inner]
        return getattr(value, "__code__", None) is code
    except Exception:  # noqa: BLE001 - not importable: refuse with a clear error
        return False


# ---------------------------------------------------------------- previews

def _table_label(variable: str, backend) -> str:
    return f"{variable} ({backend.name if backend is not None else 'unbound'})"


class _PreviewPlan:
    """Everything a preview needs, derived from the user's own tables (never the worker's)."""

    def __init__(self, tables: Mapping[str, ir.Table], snapshot: list[dict], references: list[str]):
        self.known: dict[str, KnownTable] = {}
        self.derived: dict[str, ir.Table] = {}
        backends = {}
        for spec in snapshot:
            table = tables[spec["variable"]]
            if spec["name"] not in references:
                continue
            backend = table_backend(table)
            if backend is None:
                raise PreviewRefused(f"table {spec['variable']!r} is not bound to a backend, so it has no data to preview")
            backends[id(backend)] = backend
            self.known[spec["name"]] = KnownTable(spec["name"], spec.get("database"), spec.get("catalog"))
            if spec["name"].startswith(PLACEHOLDER_PREFIX):
                self.derived[spec["name"]] = table
        if len(backends) > 1:
            raise PreviewRefused("the expression reads tables from more than one backend")
        if not backends:
            raise PreviewRefused("the expression reads no bound table")
        self.backend = next(iter(backends.values()))

    def checked_sql(self, sql: str, dialect: str) -> str:
        builtins = None
        if self.backend.name == "duckdb":
            builtins = duckdb_builtins(self.backend.con)
        tree = check_preview_sql(sql, dialect, self.known, builtins)
        tree = cap_amplifiers(tree)
        if self.derived:
            tree = tree.transform(self._substitute(dialect))
        return tree.sql(dialect=dialect)

    def _substitute(self, dialect: str):
        import sqlglot
        from sqlglot import exp

        trusted = {
            name: sqlglot.parse_one(str(ibis.to_sql(table, dialect=dialect)), read=dialect)
            for name, table in self.derived.items()
        }

        def replace(node):
            if isinstance(node, exp.Table) and node.name in trusted and not node.db:
                alias = node.alias or node.name
                return exp.Subquery(this=trusted[node.name].copy(), alias=exp.TableAlias(this=exp.to_identifier(alias)))
            return node

        return replace

    def prepare(self) -> None:
        for table in self.derived.values():  # registers the user's memtables, as execute would
            hooks = getattr(self.backend, "_run_pre_execute_hooks", None)
            if hooks is not None:
                hooks(table)


def _run_preview(plan: _PreviewPlan, sql: str, dialect: str, schema: dict, rows: int,
                 max_bytes: int, timeout_s: float):
    final = plan.checked_sql(sql, dialect)
    plan.prepare()
    if plan.backend.name == "duckdb":
        table = run_duckdb_preview(plan.backend.con, final, rows=rows, max_bytes=max_bytes, timeout_s=timeout_s)
        return to_frame(table, schema)
    result = plan.backend.sql(final, dialect=dialect).limit(rows).to_pyarrow()
    if result.nbytes > max_bytes:
        raise PreviewRefused(f"the preview is larger than {max_bytes} bytes")
    return to_frame(result, schema)


def _readable_sql(sql: str, tables, snapshot: list[dict], dialect: str) -> str:
    """Show the user's own expressions where the worker saw placeholders (display only:
    previews check and run the worker's SQL, not this text)."""
    import sqlglot
    from sqlglot import exp

    derived = {s["name"]: tables[s["variable"]] for s in snapshot if s["name"].startswith(PLACEHOLDER_PREFIX)}
    try:
        trusted = {name: sqlglot.parse_one(str(ibis.to_sql(t, dialect=dialect)), read=dialect)
                   for name, t in derived.items()}

        def replace(node):
            if isinstance(node, exp.Table) and node.name in trusted and not node.db:
                alias = exp.TableAlias(this=exp.to_identifier(node.alias or node.name))
                return exp.Subquery(this=trusted[node.name].copy(), alias=alias)
            return node

        return sqlglot.parse_one(sql, read=dialect).transform(replace).sql(dialect=dialect, pretty=True)
    except Exception:  # noqa: BLE001 - an unreadable rewrite keeps the worker's text
        return sql


def _expression_factory(tables, snapshot, result, dialect):
    """Build the verified result on the user's backend from checked SQL, on first use."""

    def build():
        plan = _PreviewPlan(tables, snapshot, result.get("tables", []))
        final = plan.checked_sql(result["preview_sql"], dialect)
        plan.prepare()
        schema = ibis.schema(result["schema"])
        expr = ops.SQLQueryResult(query=final, schema=schema, source=plan.backend).to_expr()
        if result["result_kind"] == "column":
            return expr[next(iter(result["schema"]))]
        if result["result_kind"] == "scalar":
            return expr[next(iter(result["schema"]))].as_scalar()
        return expr

    return build


# ---------------------------------------------------------------- verify

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
    provided: Collection[str] | None = None,
    preview_max_bytes: int = DEFAULT_PREVIEW_BYTES,
    pool: WorkerPool | None = None,
) -> VerificationReport:
    """Verify candidate Ibis ``code`` against ``tables`` (variable name → Ibis table).

    ``helpers`` are trusted extra names (plain data, or importable functions) the candidate
    may use. ``provided`` is the set of names the code may use without defining them besides
    the tables (None: ``ibis`` and ``_``); a known Ibis name outside it fails at build with
    the import to add. Returns a report; never raises for problems in the candidate itself.
    """
    if not isinstance(code, str):
        raise VerifierInputError(f"candidate code must be a string, got {type(code).__name__}")
    for name, table in tables.items():
        if not isinstance(table, ir.Table):
            raise VerifierInputError(f"'{name}' is not an Ibis table ({type(table).__name__})")
    if preview_rows < 1:
        raise VerifierInputError("preview_rows must be at least 1")
    if provided is not None and (isinstance(provided, str) or not all(isinstance(n, str) for n in provided)):
        raise VerifierInputError("provided must be a collection of names (strings)")
    helper_specs = {name: _helper_spec(name, value) for name, value in (helpers or {}).items()}

    backends = {variable: table_backend(table) for variable, table in tables.items()}
    against = [_table_label(v, b) for v, b in backends.items()]
    bound = [b.name for b in backends.values() if b is not None]
    target_dialect = dialect or (bound[0] if bound else "duckdb")
    snapshot, key = describe_tables(tables)
    pool = pool or default_pool()
    timeout_s = float(build_timeout_s) if build_timeout_s else DEFAULT_BUILD_TIMEOUT_S

    request = {
        "code": code, "snapshot_key": key, "dialect": target_dialect, "helpers": helper_specs,
        "provided": None if provided is None else sorted(provided),
    }
    try:
        result = pool.run(request, snapshot, timeout_s)
    except ValueError as exc:
        raise VerifierInputError(f"the tables could not be described to the verifier: {exc}") from exc
    except (WorkerUnavailable, WorkerError) as exc:
        result = {"ok": False, "stage": Stage.BUILD, "error_type": type(exc).__name__, "message": str(exc)}
    if result.get("stage", Stage.BUILD) not in STAGES:  # only a broken worker says this
        result = {"ok": False, "stage": Stage.BUILD, "error_type": "WorkerError",
                  "message": f"the verifier worker reported an unknown stage {str(result.get('stage'))[:40]!r}"}
    isolation = pool.isolation.to_dict()
    timings = dict(result.get("timings_ms") or {})
    common = {
        "code": code, "dialect": target_dialect, "verified_against": against,
        "timings_ms": timings, "isolation": isolation,
    }
    if not result.get("ok"):
        return VerificationReport(
            ok=False, stage=result.get("stage", Stage.BUILD), error_type=result.get("error_type"),
            message=result.get("message"), line=result.get("line"), column=result.get("column"),
            **common,
        )

    references = list(result.get("tables", []))
    if any(name.startswith(PLACEHOLDER_PREFIX) for name in references):
        result["sql"] = _readable_sql(result["sql"], tables, snapshot, target_dialect)
    factory = _expression_factory(tables, snapshot, result, target_dialect) if bound else None
    preview_value, stage = None, result.get("stage", Stage.SQL)
    if preview:
        stage = Stage.PREVIEW
        t0 = time.perf_counter()
        try:
            plan = _PreviewPlan(tables, snapshot, references)
            preview_value = _run_preview(
                plan, result["preview_sql"], target_dialect, _preview_schema(result),
                preview_rows, preview_max_bytes, preview_timeout_s,
            )
        except Exception as exc:  # noqa: BLE001 - refusal, limit or engine error: a report
            timings["preview"] = (time.perf_counter() - t0) * 1e3
            return VerificationReport(
                ok=False, stage=Stage.PREVIEW, error_type=type(exc).__name__,
                message=str(exc).strip() or type(exc).__name__, sql=result.get("sql"),
                result_kind=result.get("result_kind"), schema=result.get("schema"),
                table_references=references, **common,
            )
        timings["preview"] = (time.perf_counter() - t0) * 1e3
    return VerificationReport(
        ok=True, stage=stage, sql=result["sql"], result_kind=result["result_kind"],
        schema=result["schema"], preview=preview_value, table_references=references,
        expression_factory=factory, **common,
    )


def _preview_schema(result: dict) -> dict:
    """Column names and types of the previewed table (a column or scalar becomes one column)."""
    return dict(result["schema"])
