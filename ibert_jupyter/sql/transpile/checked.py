"""Convert, verify and compare with the SQL's own result: one outcome per query.

The same path serves the benchmark, the magic and the tests, so "matched" means the same
thing everywhere: the generated code passed the sandboxed verifier, ran on the backend, and
returned the rows DuckDB returns for the original SQL.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Mapping

from ibert_jupyter.sql.compare import compare_with_sql
from ibert_jupyter.sql.transpile import Conversion, UnsupportedSQL, sql_to_ibis

DEFAULT_TIMEOUT_S = 60.0


class CheckStage(StrEnum):
    """Where a converted query stopped; DONE means its rows matched the SQL's."""

    CONVERT = "convert"
    VERIFY = "verify"
    RUN = "run"
    COMPARE = "compare"
    DONE = "done"


@dataclass(frozen=True)
class CheckedConversion:
    conversion: Conversion | None
    converted: bool
    ran: bool
    matched: bool
    stage: CheckStage
    message: str = ""

    @property
    def code(self) -> str | None:
        return self.conversion.code if self.conversion else None


@contextlib.contextmanager
def interrupt_after(con, seconds: float | None):
    """Interrupt the DuckDB connection behind ``con`` after ``seconds``."""
    if not seconds:
        yield
        return
    raw = getattr(con, "con", con)
    timer = threading.Timer(seconds, lambda: raw.interrupt())
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def run_and_compare(con, sql: str, expr: Any, dialect: str, timeout_s: float | None):
    with interrupt_after(con, timeout_s):
        return compare_with_sql(con, sql, expr, dialect)


def convert_and_check(
    sql: str, con, dialect: str = "duckdb", timeout_s: float | None = DEFAULT_TIMEOUT_S,
    catalog: Any = None,
    tables: Mapping[str, Any] | None = None,
) -> CheckedConversion:
    """Convert ``sql`` against the schemas of backend ``con`` and check it on ``con``.

    ``tables`` (variable -> bound Ibis table) overrides the default ``con.table(name)``.
    """
    from ibert_jupyter.verify import verify

    try:
        conversion = sql_to_ibis(sql, dialect=dialect, catalog=con if catalog is None else catalog)
    except UnsupportedSQL as exc:
        return CheckedConversion(None, False, False, False, CheckStage.CONVERT, str(exc))
    try:
        bound = {
            var: tables[var] if tables and var in tables else con.table(name)
            for var, name in conversion.tables.items()
        }
    except Exception as exc:  # noqa: BLE001 - a missing table is an outcome
        return CheckedConversion(conversion, True, False, False, CheckStage.VERIFY, f"{type(exc).__name__}: {exc}")
    report = verify(conversion.code, bound, dialect="duckdb")
    if not report.ok:
        return CheckedConversion(conversion, True, False, False, CheckStage.VERIFY, report.summary())
    try:
        comparison = run_and_compare(con, sql, report.expression, dialect, timeout_s)
    except Exception as exc:  # noqa: BLE001 - a run failure is an outcome, not a crash
        return CheckedConversion(conversion, True, False, False, CheckStage.RUN, f"{type(exc).__name__}: {exc}")
    return CheckedConversion(
        conversion, True, True, comparison.equal, CheckStage.DONE if comparison.equal else CheckStage.COMPARE,
        comparison.reason,
    )
