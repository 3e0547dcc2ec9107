"""SQL → idiomatic Ibis Python, in sqlglot's style: parse → qualify → rule tables → code.

>>> conversion = sql_to_ibis("SELECT a FROM t WHERE b > 1", catalog={"t": {"a": "int", "b": "int"}})
>>> print(conversion.code)
t.filter(t.b > 1).select('a')
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError, SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from ibert_jupyter.sql.transpile.catalog import CatalogError, ibis_schemas, prepared_schema
from ibert_jupyter.sql.transpile.errors import UnsupportedSQL
from ibert_jupyter.sql.transpile.layout import layout
from ibert_jupyter.sql.transpile.names import Names
from ibert_jupyter.sql.transpile.relations import QueryTranslator
from ibert_jupyter.sql.transpile.rewrites import rewrite

__all__ = ["CatalogError", "Conversion", "UnsupportedSQL", "sql_to_ibis"]


@dataclass(frozen=True)
class Conversion:
    """Generated Ibis code and the table variables it expects (variable -> table name)."""

    sql: str
    dialect: str
    code: str
    tables: dict[str, str] = field(default_factory=dict)
    elapsed_ms: float = 0.0


def _parse(sql: str, dialect: str) -> exp.Expression:
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        err = UnsupportedSQL(f"SQL that does not parse as {dialect}", detail=str(exc).splitlines()[0])
        err.line, err.column = first.get("line"), first.get("col")
        raise err from exc
    except SqlglotError as exc:  # tokenizer errors and the like
        raise UnsupportedSQL(f"SQL that does not parse as {dialect}", detail=str(exc)) from exc
    if len(statements) != 1:
        raise UnsupportedSQL(f"{len(statements)} statements (convert one query at a time)")
    statement = statements[0]
    if not isinstance(statement, (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Subquery)):
        raise UnsupportedSQL(f"{type(statement).__name__} statement (only queries convert)", statement)
    return statement


def sql_to_ibis(sql: str, dialect: str = "duckdb", catalog: Any = None) -> Conversion:
    """Convert one SQL query into Ibis code over variables named after its tables.

    ``catalog`` maps table names to Ibis schemas (or tables, or dicts of column types), or
    is an Ibis backend. Raises ``UnsupportedSQL`` naming the construct and its position for
    anything that cannot be expressed with the same results.
    """
    if not isinstance(sql, str) or not sql.strip():
        raise UnsupportedSQL("empty SQL text")
    started = time.perf_counter()
    schemas = ibis_schemas(catalog)
    statement = _parse(sql, dialect)
    schema = prepared_schema(schemas, dialect)
    names = Names(dialect, {t: list(s.names) for t, s in schemas.items()})
    statement = names.prepare(rewrite(statement))
    try:
        qualified = qualify(
            statement, schema=schema, dialect=dialect,
            quote_identifiers=False, validate_qualify_columns=True,
        )
    except OptimizeError as exc:
        raise UnsupportedSQL("name resolution", statement, str(exc)) from exc
    except SqlglotError as exc:
        raise UnsupportedSQL("name resolution", statement, str(exc)) from exc
    try:  # types let rules keep SQL semantics (AVG over DECIMAL is DOUBLE in DuckDB)
        annotate_types(qualified, schema=schema, dialect=dialect)
    except Exception:  # noqa: BLE001 - rules fall back to untyped behaviour
        pass
    qualified = names.restore(qualified)
    translator = QueryTranslator({t: list(s.names) for t, s in schemas.items()}, dialect)
    try:
        relation = translator.query(qualified)
    except UnsupportedSQL:
        raise
    except RecursionError as exc:
        raise UnsupportedSQL("query nesting too deep", statement) from exc
    code = layout([*translator.program.statements, relation.code])
    imports = []
    if re.search(r"(?<![\w.])ibis\.", code):
        imports.append("import ibis")
    if re.search(r"(?<![\w.])_\.", code):
        imports.append("from ibis import _")
    if imports:
        code = "\n".join(imports) + "\n\n" + code
    return Conversion(
        sql=sql, dialect=dialect, code=code, tables=dict(translator.inputs),
        elapsed_ms=(time.perf_counter() - started) * 1e3,
    )
