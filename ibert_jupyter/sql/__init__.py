"""Ibis→SQL rendering and portability; SQL→Ibis transpiler (ibert_jupyter.sql.transpile)."""

from ibert_jupyter.sql.portability import DialectResult, portability_report, summarize
from ibert_jupyter.sql.render import DIALECTS, UnknownDialect, render_sql

__all__ = ["DIALECTS", "DialectResult", "UnknownDialect", "portability_report", "render_sql", "summarize"]
