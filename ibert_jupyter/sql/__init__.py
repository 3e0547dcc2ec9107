"""Ibis→SQL rendering and portability; SQL→Ibis transpiler (ibert_jupyter.sql.transpile)."""

from ibert_jupyter.sql.portability import DialectResult, portability_report, summarize
from ibert_jupyter.sql.render import DIALECTS, UnknownDialect, render_sql
from ibert_jupyter.sql.transpile import Conversion, UnsupportedSQL, sql_to_ibis

__all__ = [
    "DIALECTS", "Conversion", "DialectResult", "UnknownDialect", "UnsupportedSQL",
    "portability_report", "render_sql", "sql_to_ibis", "summarize",
]
