"""%%ibert_from_sql: convert the cell's SQL to Ibis code in a new cell below, optionally verified.

Schemas come from the kernel: Ibis tables bound to variables (the SQL names them by variable)
and the tables of Ibis backends in the namespace. ``--verify`` runs the code through the
sandboxed verifier and, on DuckDB, compares its rows with the SQL's own.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ibert_jupyter.context import find_tables
from ibert_jupyter.context.tables import find_backends


@dataclass(frozen=True)
class FromSqlResult:
    """Display object: the generated code and its verification verdict."""

    code: str | None
    verdict: str
    ok: bool

    def __repr__(self) -> str:
        mark = "✓" if self.ok else "✗"
        return f"{mark} {self.verdict}\n\n{self.code}" if self.code else f"{mark} {self.verdict}"

    def _repr_html_(self) -> str:
        mark = "✓" if self.ok else "✗"
        body = f"<pre>{html.escape(self.code)}</pre>" if self.code else ""
        return f"<div><b>{mark} {html.escape(self.verdict)}</b>{body}</div>"


def kernel_catalog(namespace) -> tuple[dict, dict, dict[str, str]]:
    """(catalog, bound tables, prelude lines) from the kernel's tables and backends."""
    tables = find_tables(namespace)
    catalog = {name: table.schema() for name, table in tables.items()}
    bound = dict(tables)
    prelude: dict[str, str] = {}
    for backend_var, backend in find_backends(namespace).items():
        try:
            names = backend.list_tables()
        except Exception:  # noqa: BLE001 - a backend we cannot list is skipped
            continue
        for name in names:
            if name in catalog or not name.isidentifier():
                continue
            try:
                table = backend.table(name)
            except Exception:  # noqa: BLE001
                continue
            catalog[name] = table.schema()
            bound[name] = table
            prelude[name] = f"{name} = {backend_var}.table({name!r})"
    return catalog, bound, prelude


def _duckdb_backend(tables: dict):
    for table in tables.values():
        try:
            backend = table._find_backend(use_default=False)
        except Exception:  # noqa: BLE001 - unbound table
            continue
        if backend.name == "duckdb":
            return backend
    return None


@magics_class
class FromSqlMagics(Magics):
    @magic_arguments()
    @argument("--dialect", "-d", default="duckdb", help="dialect of the SQL (sqlglot name)")
    @argument("--verify", "-v", action="store_true", help="verify the code and compare rows with the SQL")
    @cell_magic
    def ibert_from_sql(self, line: str, cell: str):
        """Convert SQL to Ibis: %%ibert_from_sql [--dialect D] [--verify]."""
        from ibert_jupyter.sql.transpile import UnsupportedSQL, sql_to_ibis
        from ibert_jupyter.sql.transpile.checked import convert_and_check
        from ibert_jupyter.verify import verify

        args = parse_argstring(self.ibert_from_sql, line)
        catalog, bound, prelude = kernel_catalog(self.shell.user_ns)
        if not catalog:
            return FromSqlResult(None, "no Ibis tables or backends in the namespace to resolve names", False)
        try:
            conversion = sql_to_ibis(cell, dialect=args.dialect, catalog=catalog)
        except UnsupportedSQL as exc:
            return FromSqlResult(None, str(exc), False)
        needed = [prelude[var] for var in conversion.tables if var in prelude]
        code = "\n".join(needed + [conversion.code]) if needed else conversion.code
        verdict, ok = "converted (not verified; add --verify)", True
        if args.verify:
            used = {var: bound[var] for var in conversion.tables}
            backend = _duckdb_backend(used)
            if backend is not None:
                outcome = convert_and_check(
                    cell, backend, dialect=args.dialect, catalog=catalog, tables=used
                )
                ok = outcome.matched
                verdict = (
                    "verified: same rows as the SQL on duckdb"
                    if ok else f"NOT verified ({outcome.stage}): {outcome.message}"
                )
            else:
                report = verify(conversion.code, used)
                ok = report.ok
                verdict = report.summary() + ("; rows not compared (DuckDB only)" if ok else "")
        self.shell.set_next_input(code, replace=False)
        return FromSqlResult(code, verdict, ok)
