"""Render an Ibis expression as SQL for any dialect Ibis compiles to."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from ibert_jupyter.errors import IbertInputError

# Dialects ibis can compile to without a live connection (pyspark's compiler needs a session).
DIALECTS: tuple[str, ...] = (
    "duckdb", "postgres", "sqlite", "mysql", "mssql", "oracle", "snowflake", "bigquery",
    "trino", "athena", "databricks", "clickhouse", "datafusion", "druid", "exasol", "flink",
    "impala", "risingwave", "materialize",
)


class UnknownDialect(IbertInputError):
    """The dialect name is not one Ibis can compile to."""


def check_dialect(dialect: str) -> str:
    name = dialect.strip().lower()
    if name not in DIALECTS:
        raise UnknownDialect(f"unknown SQL dialect {dialect!r}; choose one of: {', '.join(DIALECTS)}")
    return name


def render_sql(expr: ir.Expr, dialect: str = "duckdb") -> str:
    """Pretty SQL text of ``expr`` in ``dialect`` (ibis pretty-prints through sqlglot)."""
    if not isinstance(expr, ir.Expr):
        raise TypeError(f"expected an Ibis expression, got {type(expr).__name__}")
    return str(ibis.to_sql(expr, dialect=check_dialect(dialect)))


def highlight_html(sql: str) -> str:
    """Syntax-highlighted HTML for notebooks (pygments), with inline styles."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import SqlLexer

    return highlight(sql, SqlLexer(), HtmlFormatter(noclasses=True, nowrap=False))
