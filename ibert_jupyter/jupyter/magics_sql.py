"""%ibert_sql: show an expression's SQL for a dialect, and where else it compiles."""

from __future__ import annotations

import html
from dataclasses import dataclass

from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ibert_jupyter.context.tables import table_backend
from ibert_jupyter.sql import DIALECTS, portability_report, render_sql, summarize
from ibert_jupyter.sql.portability import DialectResult
from ibert_jupyter.sql.render import highlight_html


@dataclass(frozen=True)
class SqlView:
    """Display object: highlighted SQL in HTML frontends, plain text elsewhere."""

    dialect: str
    sql: str
    portability: list[DialectResult] | None = None

    def __repr__(self) -> str:
        text = f"-- {self.dialect}\n{self.sql}"
        if self.portability is not None:
            text += "\n\n" + summarize(self.portability)
        return text

    def _repr_html_(self) -> str:
        parts = [f"<div><b>SQL ({html.escape(self.dialect)})</b>{highlight_html(self.sql)}</div>"]
        if self.portability is not None:
            rows = "".join(
                f"<tr><td>{html.escape(r.dialect)}</td><td>{'✓ compiles' if r.ok else '✗ does not compile'}</td>"
                f"<td>{html.escape(', '.join(r.blockers) or (r.error or '') if not r.ok else '')}</td></tr>"
                for r in self.portability
            )
            parts.append(
                "<table><thead><tr><th>dialect</th><th>compiles</th><th>blocked by</th></tr>"
                f"</thead><tbody>{rows}</tbody></table>"
            )
        return "".join(parts)


@magics_class
class SqlMagics(Magics):
    @magic_arguments()
    @argument("--dialect", "-d", default=None, help=f"one of: {', '.join(DIALECTS)}")
    @argument("--all-dialects", "-a", action="store_true", help="portability report across dialects")
    @argument("expr", nargs="+", help="a Python expression evaluating to an Ibis expression")
    @line_magic
    def ibert_sql(self, line: str):
        """Render an Ibis expression's SQL: %ibert_sql EXPR [--dialect D] [--all-dialects]."""
        args = parse_argstring(self.ibert_sql, line)
        source = " ".join(args.expr)
        import ibis.expr.types as ir

        try:
            expr = self.shell.ev(source)
        except Exception as exc:  # noqa: BLE001 - report, don't crash the cell
            print(f"%ibert_sql: could not evaluate {source!r}: {type(exc).__name__}: {exc}")
            return None
        if not isinstance(expr, ir.Expr):
            print(f"%ibert_sql: {source!r} is a {type(expr).__name__}, not an Ibis expression")
            return None
        dialect = args.dialect or _backend_name(expr) or "duckdb"
        try:
            sql = render_sql(expr, dialect)
        except Exception as exc:  # noqa: BLE001
            print(f"%ibert_sql: cannot compile for {dialect}: {type(exc).__name__}: {exc}")
            if not args.all_dialects:
                return None
            sql = f"-- does not compile for {dialect}"
        report = portability_report(expr) if args.all_dialects else None
        return SqlView(dialect=dialect, sql=sql, portability=report)


def _backend_name(expr) -> str | None:
    backend = table_backend(expr)
    return backend.name if backend is not None and backend.name in DIALECTS else None
