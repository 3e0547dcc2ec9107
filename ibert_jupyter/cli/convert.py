"""``ibert convert``: SQL (file or stdin) → Ibis Python on stdout.

Table schemas come from a DuckDB database file, a JSON file (``{"table": {"col": "type"}}``)
or generated TPC data; ``--verify`` also runs both on DuckDB and compares the rows.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", default="-", help="SQL file ('-' or nothing: stdin)")
    parser.add_argument("--dialect", "-d", default="duckdb", help="source SQL dialect (sqlglot name)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--duckdb", metavar="PATH", help="DuckDB database file whose tables are used")
    source.add_argument("--schema", metavar="JSON", help='JSON file: {"table": {"column": "type"}}')
    source.add_argument("--tpc", choices=["tpch", "tpcds"], help="generate TPC data (in memory)")
    parser.add_argument("--scale", type=float, default=0.01, help="TPC scale factor for --tpc")
    parser.add_argument("--verify", action="store_true",
                        help="run the code and the SQL on DuckDB and compare rows (needs --duckdb or --tpc)")


def _read_sql(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"no such SQL file: {path}")
    return file.read_text()


def _catalog(args):
    """(catalog, backend or None)."""
    if args.schema:
        data = json.loads(Path(args.schema).read_text())
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise ValueError(f'{args.schema}: expected {{"table": {{"column": "type"}}}}')
        return data, None
    import ibis

    if args.duckdb:
        if not Path(args.duckdb).exists():
            raise FileNotFoundError(f"no such DuckDB database: {args.duckdb}")
        con = ibis.duckdb.connect(args.duckdb, read_only=True)
    else:
        from ibert_jupyter.data import tpc

        con = tpc.connect(args.tpc, scale=args.scale)
    return {name: con.get_schema(name) for name in con.list_tables()}, con


def run(args) -> int:
    from ibert_jupyter.sql.transpile import UnsupportedSQL, sql_to_ibis
    from ibert_jupyter.sql.transpile.catalog import CatalogError
    from ibert_jupyter.sql.transpile.checked import convert_and_check

    try:
        sql = _read_sql(args.file)
        catalog, con = _catalog(args)
    except (OSError, ValueError) as exc:
        print(f"ibert convert: {exc}", file=sys.stderr)
        return 2
    if args.verify and con is None:
        print("ibert convert: --verify needs --duckdb or --tpc (data to run on)", file=sys.stderr)
        return 2
    try:
        if args.verify:
            outcome = convert_and_check(sql, con, dialect=args.dialect, catalog=catalog)
            if outcome.conversion is None:
                raise UnsupportedSQL(outcome.message.removeprefix("unsupported SQL: "))
            print(outcome.code)
            verdict = "matched the SQL's rows" if outcome.matched else f"NOT verified ({outcome.stage}): {outcome.message}"
            print(f"# verification: {verdict}", file=sys.stderr)
            return 0 if outcome.matched else 1
        print(sql_to_ibis(sql, dialect=args.dialect, catalog=catalog).code)
        return 0
    except (UnsupportedSQL, CatalogError) as exc:
        print(f"ibert convert: {exc}", file=sys.stderr)
        return 2
